"""Soak benchmark: the daemon as a real process through the simulated gateway for many bars,
with a fault every few thousand bars; prints its RSS growth and every invariant violation.

Usage: ``python bench/soak_bench.py [--bars 1000000] [--symbols 5] [--fault-every 3000]
[--seed 1] [--budget SECONDS]``.

* Market: ``ibbot data synth`` 1-minute bars for the first ``--symbols`` stocks of
  config/instruments.yaml, enough trading days for ``--bars`` (bars = symbols x minutes
  walked), one warm-up day before them.
* Daemon: ``python -m bot run`` (a subprocess, so its RSS is its own), sma_crossover 2/5
  long/flat on every symbol, 1-minute bars: an order every few bars, so thousands of orders
  go through pruning. The gateway runs in this process on a manual clock, walked a minute a
  step (5 seconds a step through a fault) as fast as the daemon keeps up: each step waits
  until the daemon has taken its messages and answered them (its event loop back in
  epoll_wait, as /proc/PID/wchan shows; Linux) and the gateway has handled the answers, so
  an order sent on a bar's close reaches the market before the next minute's ticks, and a
  daemon that lags is never flooded. The market is still ticks and 5-second bars: a minute
  step sends each symbol's twelve 5-second bars in one write. The daemon runs with the
  watchdog's default poll (5 s), otherwise FAST_IB's quick reconnects, and IB's
  historical-data pacing scaled by 0.01 (60 requests in 6 s), the gateway's and the
  daemon's (``ib.history_pacing_scale``) alike: at IB's rate the backfills after a fault
  every 3,000 bars would queue for hours of wall time, the streams waiting for them. The
  bench stops with an error if the daemon does not reconnect after a fault within 20 s.
* Orders: the daemon paces orders in wall time (bot/orders/message_rate.py, IB's message rate: 40 a
  second), so past about 190 bars/s this strategy's orders queue in the daemon and reach the
  market late, and a decision that finds its symbol's last order still on its way sends none:
  the bench prints how many of the strategy's decisions (its ``ORDER`` log lines) became
  orders.
* Faults: every ``--fault-every`` bars one of the fault matrix's kinds, seeded (socket drop,
  gateway restart, 1100 then 1101 or 1102, market farm broken then OK, data stopped, a burst
  of rejected orders), lasting 30 to 150 simulated seconds, with trading going on around it.
* RSS: the daemon's VmRSS once 10,000 bars (or a tenth of ``--bars``, if less) have passed
  (everything warm, a few faults behind it) and at the end; growth = end - that baseline
  (target under 50 MB). Peak: its VmHWM.
* Invariants (target: zero violations), from the gateway's own record of what it did and the
  daemon's journal: no order ref placed twice as a new order, every execution of the account
  journalled exactly once with its side and size, and per symbol the journal's position
  equal to the broker's.
* ``--budget``: stop walking after that many wall seconds and report the bars reached, the
  rate, and the time 1,000,000 bars would take at it (the full size may not fit a machine).
"""

from __future__ import annotations

import argparse
import asyncio
import fcntl
import random
import signal
import sqlite3
import sys
import tempfile
import termios
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

REPO = Path(__file__).resolve().parents[1]
for extra in (REPO, REPO / "tests", REPO / "tests" / "e2e"):  # the fault tests' helpers
    if str(extra) not in sys.path:
        sys.path.insert(0, str(extra))

import yaml  # noqa: E402
from e2e_support import PAPER, write_config  # noqa: E402
from fault_support import FAST_IB, broker_positions  # noqa: E402

from bench.backtest_bench import MINUTE_BARS_PER_DAY, STOCKS, synth  # noqa: E402
from bench.ibbot_backtest import INSTRUMENTS  # noqa: E402
from bot.config.gateway import GatewaySettings  # noqa: E402
from bot.gateway.fault_schedule import random_fault  # noqa: E402
from bot.gateway.pacing_rules import PacingLimits  # noqa: E402
from bot.gateway.server import Gateway, GatewayTuning  # noqa: E402
from bot.gateway.session import Session  # noqa: E402
from bot.research.data.synth import trading_days  # noqa: E402
from bot.sim.broker_events import BrokerEvent, ExecutionEvent, OrderStatusEvent  # noqa: E402

STEP = timedelta(seconds=5)  # through a fault
MINUTE = timedelta(minutes=1)  # otherwise: a bar per symbol
SETTLE_POLL = 0.001  # seconds between looks while the daemon is busy
NEW_YORK = ZoneInfo("America/New_York")
WARM_BARS = 10_000  # the RSS baseline is taken here (or at a tenth of --bars, if less)
# IB's historical-data pacing (60 requests in 10 minutes) runs on a clock this much faster,
# the gateway's and the daemon's alike: the market clock runs thousands of times faster than
# the wall, and at IB's rate the backfills after a fault every 3,000 bars (one per symbol)
# would queue for hours.
PACING_SCALE = 0.01


@dataclass
class Audit:
    """What the gateway's broker did, from the events its entry points return."""

    perms_by_ref: dict[str, set[int]] = field(default_factory=lambda: defaultdict(set))
    executions: dict[str, tuple[str, str, str, float]] = field(default_factory=dict)
    rejected: int = 0

    def watch(self, broker: Any) -> None:
        """Wrap the broker's entry points (each returns the events it caused)."""
        for name in ("place_order", "cancel_order", "global_cancel", "on_tick", "on_time"):
            original = getattr(broker, name)

            def seen(*a: Any, _f: Any = original, **k: Any) -> list[BrokerEvent]:
                events = _f(*a, **k)
                self.take(events)
                return events  # type: ignore[no-any-return]

            setattr(broker, name, seen)

    def take(self, events: list[BrokerEvent]) -> None:
        for ev in events:
            if isinstance(ev, OrderStatusEvent) and ev.order.orderRef:
                self.perms_by_ref[ev.order.orderRef].add(ev.perm_id)
            elif isinstance(ev, ExecutionEvent):
                ex = ev.execution
                side = "BUY" if ex.side == "BOT" else "SELL"
                self.executions[ex.execId] = (ex.orderRef, ev.contract.symbol, side, ex.shares)


@dataclass
class Daemon:
    proc: asyncio.subprocess.Process
    err: list[str] = field(default_factory=list)
    decisions: int = 0  # the strategy's ORDER lines: targets it asked for

    async def pump(self) -> None:
        assert self.proc.stderr is not None
        async for line in self.proc.stderr:
            text = line.decode(errors="replace").rstrip()
            if " bot.trading.router: ORDER " in text:
                self.decisions += 1
            self.err.append(text)
            if len(self.err) > 5000:
                del self.err[:1000]

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.err)

    def idle(self) -> bool:
        """Its event loop waits for input: the main thread sleeps in epoll_wait."""
        wchan = Path(f"/proc/{self.proc.pid}/wchan").read_text()
        return wchan in ("do_epoll_wait", "ep_poll")  # the name differs across kernels

    def rss_mb(self, key: str = "VmRSS") -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024
        return float("nan")


def market(tmp: Path, symbols: list[str], bars: int) -> tuple[Path, Path, list[date]]:
    """(data dir, instruments file, trading days) for ``bars`` bars of ``symbols``."""
    raw = yaml.safe_load(INSTRUMENTS.read_text())
    raw["instruments"] = [i for i in raw["instruments"] if i["symbol"] in symbols]
    instruments = tmp / "instruments.yaml"
    instruments.write_text(yaml.safe_dump(raw, sort_keys=False))
    minutes = -(-bars // len(symbols))
    days = trading_days(date(2024, 1, 2), -(-minutes // MINUTE_BARS_PER_DAY) + 1)
    data = tmp / "data"
    synth(data, symbols, days[0], len(days), 60, instruments)
    return data, instruments, days


def bot_config(tmp: Path, port: int, symbols: list[str]) -> Path:
    strategy = {
        "id": "soak", "class": "sma_crossover", "symbols": symbols,
        "bars": {"size": "1 min", "warmup": "1 D"},
        "params": {"fast": 2, "slow": 5, "mode": "long_flat"}, "sizing": {"fixed": 10},
    }  # fmt: skip
    # Fast reconnects, but the watchdog's default poll: FAST_IB's reqCurrentTime every 20 ms
    # took a third of the 45 messages a second the client library lets through, and orders
    # queued behind it. History pacing scaled as the gateway's is.
    ib = {k: v for k, v in FAST_IB.items() if k != "watchdog"}
    ib["history_pacing_scale"] = PACING_SCALE
    path = write_config(tmp, port, [strategy], symbols=tuple(symbols), client_id=31, ib=ib)
    raw = yaml.safe_load(path.read_text())
    raw["risk"] = {"max_position": 10_000, "max_order_notional": 1_000_000}
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


async def spawn(config: Path) -> Daemon:
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", str(config), cwd=REPO,
        stdout=asyncio.subprocess.DEVNULL, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    d = Daemon(proc)
    asyncio.get_running_loop().create_task(d.pump())
    return d


def handed_over(session: Session) -> bool:
    """The gateway's buffer for this client is empty and it has nothing unread from it."""
    if session.writer.transport.get_write_buffer_size():
        return False
    unread = bytearray(4)
    try:
        fcntl.ioctl(session.writer.get_extra_info("socket").fileno(), termios.FIONREAD, unread)
    except OSError:  # closed meanwhile
        return True
    return not any(unread)


async def settled(gw: Gateway, daemon: Daemon, timeout: float = 5.0) -> None:
    """Until the daemon has handled what the gateway wrote and the gateway what it answered:
    the daemon idle and every session handed over, twice in a row (a request read in between
    is handled in between: asyncio runs callbacks in order)."""
    deadline = time.monotonic() + timeout
    quiet = 0
    while quiet < 2 and time.monotonic() < deadline:
        await asyncio.sleep(0 if quiet else SETTLE_POLL)
        calm = daemon.idle() and all(handed_over(s) for s in gw.sessions.values())
        quiet = quiet + 1 if calm else 0


async def step(gw: Gateway, daemon: Daemon, dt: timedelta = STEP) -> None:
    await gw.advance(dt)
    await settled(gw, daemon)


async def connected(gw: Gateway, daemon: Daemon, client_id: int, timeout: float = 20.0) -> None:
    """Until the daemon is connected again (RuntimeError if not within ``timeout``: a walk
    without it would measure nothing)."""
    deadline = time.monotonic() + timeout
    while client_id not in gw.sessions:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the daemon did not reconnect within {timeout:.0f} s:\n"
                               + "\n".join(daemon.err[-40:]))  # fmt: skip
        await asyncio.sleep(0.01)
    await asyncio.sleep(0.3)  # the reconnect's resubscriptions and backfill requests


async def fault(gw: Gateway, daemon: Daemon, rng: random.Random, client_id: int) -> str:
    async def steps(seconds: float, paced: bool) -> None:
        for _ in range(int(seconds / STEP.total_seconds())):
            await step(gw, daemon)

    kind, _ = await random_fault(gw, rng, steps)
    await connected(gw, daemon, client_id)
    return kind


def session_open(day: date) -> datetime:
    return datetime.combine(day, dtime(9, 30), NEW_YORK).astimezone(UTC)


def violations(audit: Audit, journal: Path, gw: Gateway) -> list[str]:
    db = sqlite3.connect(journal)
    try:
        fills = {r[0]: r[1:] for r in db.execute(
            "SELECT exec_id, order_ref, symbol, side, quantity FROM fills")}  # fmt: skip
        net: dict[str, float] = defaultdict(float)
        for _, sym, side, qty in fills.values():
            net[sym] += qty if side == "BUY" else -qty
    finally:
        db.close()
    out = [f"order ref {ref} placed {len(p)} times" for ref, p in audit.perms_by_ref.items()
           if len(p) > 1]  # fmt: skip
    for exec_id, want in audit.executions.items():
        got = fills.get(exec_id)
        if got is None:
            out.append(f"execution {exec_id} ({want}) not journalled")
        elif tuple(got) != want:
            out.append(f"execution {exec_id}: journalled {got}, broker {want}")
    out += [f"journalled fill {e} unknown to the broker" for e in fills
            if e not in audit.executions]  # fmt: skip
    broker = broker_positions(gw)
    for sym in sorted(set(broker) | {s for s, q in net.items() if abs(q) > 1e-9}):
        if abs(broker.get(sym, 0.0) - net.get(sym, 0.0)) > 1e-9:
            out.append(f"{sym}: journal {net.get(sym, 0.0):g}, broker {broker.get(sym, 0.0):g}")
    return out


async def soak(args: argparse.Namespace, tmp: Path) -> int:
    symbols = list(STOCKS[: args.symbols])
    t0 = time.monotonic()
    data, instruments, days = market(tmp, symbols, args.bars)
    print(f"market: {len(symbols)} symbols x {len(days) - 1} days (+1 warm-up) of 1-min bars, "
          f"made in {time.monotonic() - t0:.0f} s", flush=True)  # fmt: skip
    gw = Gateway(GatewaySettings(data=data, instruments=instruments, start=session_open(days[1]),
                                 speed=None, account=PAPER),
                 GatewayTuning(pacing=PacingLimits().scaled(PACING_SCALE)))
    audit = Audit()
    audit.watch(gw.broker)
    await gw.start()
    daemon = await spawn(bot_config(tmp, gw.port, symbols))
    rng = random.Random(args.seed)
    bars = baseline_at = 0
    baseline = float("nan")
    faults: dict[str, int] = defaultdict(int)
    try:
        await connected(gw, daemon, 31, timeout=60)
        while not daemon.saw("bot.live.daemon: live:"):
            if daemon.proc.returncode is not None:
                raise RuntimeError("the daemon ended:\n" + "\n".join(daemon.err[-40:]))
            await asyncio.sleep(0.05)
        start, next_fault = time.monotonic(), args.fault_every
        warm = min(args.bars // 10, WARM_BARS)
        day_index, minute = 1, 0
        while bars < args.bars and time.monotonic() - start < args.budget:
            if daemon.proc.returncode is not None:
                raise RuntimeError("the daemon ended:\n" + "\n".join(daemon.err[-40:]))
            await step(gw, daemon, MINUTE)
            bars += len(symbols)
            minute += 1
            if minute == MINUTE_BARS_PER_DAY:  # the session's end: on to the next open
                day_index, minute = day_index + 1, 0
                if day_index < len(days):
                    await step(gw, daemon, session_open(days[day_index]) - gw.clock.now())
            if bars >= next_fault:
                faults[await fault(gw, daemon, rng, 31)] += 1
                next_fault += args.fault_every
            if not baseline_at and bars >= warm:
                baseline, baseline_at = daemon.rss_mb(), bars
        wall = time.monotonic() - start
        await connected(gw, daemon, 31)
        for _ in range(5):  # five more bars, fault-free: the last orders fill, backfills end
            await step(gw, daemon, MINUTE)
        await asyncio.sleep(1.0)
        end_rss, peak = daemon.rss_mb(), daemon.rss_mb("VmHWM")
        daemon.proc.send_signal(signal.SIGTERM)
        try:
            code = await asyncio.wait_for(daemon.proc.wait(), 60)
        except TimeoutError:
            raise RuntimeError("the daemon did not stop on SIGTERM within 60 s:\n"
                               + "\n".join(daemon.err[-40:])) from None  # fmt: skip
    finally:
        if daemon.proc.returncode is None:
            daemon.proc.kill()
            await daemon.proc.wait()
        await gw.stop()
    bad = violations(audit, tmp / "journal.sqlite", gw)
    rate = bars / wall if wall else 0.0
    print(f"bars: {bars:,} through the daemon in {wall:,.0f} s: {rate:,.0f} bars/s"
          + ("" if bars >= 1_000_000 else
             f"; 1,000,000 bars would take {1_000_000 / rate / 60:,.0f} min at this rate"))
    kinds = ", ".join(f"{k} {n}" for k, n in sorted(faults.items()))
    orders = len(audit.perms_by_ref)
    print(f"orders: {orders:,}; executions: {len(audit.executions):,}; "
          f"faults: {sum(faults.values())} ({kinds})")
    print(f"strategy decisions: {daemon.decisions:,}, {orders / max(daemon.decisions, 1):.0%} "
          "of them orders (the others found their symbol's last order still on its way)")
    print(f"daemon RSS: {baseline:,.1f} MB at {baseline_at:,} bars, {end_rss:,.1f} MB at the "
          f"end: growth {end_rss - baseline:+,.1f} MB (target < 50); peak {peak:,.1f} MB")
    print(f"invariant violations: {len(bad)} (target 0); daemon exit code {code}")
    for line in bad[:20]:
        print("  " + line)
    return 0 if code == 0 else 1


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--bars", type=int, default=1_000_000, help="bars to walk (all symbols)")
    ap.add_argument("--symbols", type=int, default=5, choices=range(1, len(STOCKS) + 1),
                    metavar=f"1..{len(STOCKS)}")
    ap.add_argument("--fault-every", type=int, default=3000, metavar="BARS")
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--budget", type=float, default=float("inf"), metavar="SECONDS",
                    help="stop walking after this many wall seconds (default: no limit)")
    args = ap.parse_args(argv)
    if args.bars < 1 or args.fault_every < 1:
        ap.error("--bars and --fault-every must be positive")
    with tempfile.TemporaryDirectory(prefix="soak-bench-") as name:
        return asyncio.run(soak(args, Path(name)))


if __name__ == "__main__":
    raise SystemExit(main())
