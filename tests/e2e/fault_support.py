"""Helpers of the fault tests: a daemon in-process against the simulated gateway on a manual
clock, a clock that moves slowly enough for the bot to react between steps, and the invariants
every fault must keep (positions, gapless bars, live again soon, no pacing violation)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import e2e_strategies
from e2e_support import PAPER, scripted, write_config
from ib_insync import IB
from support.waiting import wait_until

from bot.config.load import load_config
from bot.gateway.server import Gateway
from bot.live.daemon import Daemon, RunOptions
from bot.live.replay import Lockstep
from bot.live.supervisor import ConnState

M1 = timedelta(minutes=1)
FAST_IB = {  # reconnect and watch fast: the wall time between manual clock steps is short
    "reconnect": {"initial": 0.05, "max": 0.2, "jitter": 0.2, "seed": 7},
    "watchdog": {"poll": 0.02},
    "client_id_tries": 3,
    "connect_timeout": 1,  # a 326 is only known when the handshake times out
}


@dataclass
class Run:
    daemon: Daemon
    task: asyncio.Task[int]

    @property
    def strategy(self) -> e2e_strategies.Scripted:
        assert self.daemon.router is not None
        s = self.daemon.router.slots["s1"].strategy
        assert isinstance(s, e2e_strategies.Scripted)
        return s

    async def stop(self) -> int:
        self.daemon.request_stop("test over")
        return await asyncio.wait_for(self.task, 10)


async def start_run(gw: Gateway, tmp: Path, steps: list[dict[str, Any]], *, client_id: int = 61,
                    **extra: Any) -> Run:  # fmt: skip
    path = write_config(tmp, gw.port, [scripted("s1", steps)], client_id=client_id, ib=FAST_IB,
                        **extra)  # fmt: skip
    daemon = Daemon(load_config(path), RunOptions(handle_signals=False, print_summary=False))
    task = asyncio.create_task(daemon.run())
    await wait_until(lambda: task.done() or (daemon.ready is not None and daemon.ready.is_set()),
                     what="daemon ready")  # fmt: skip
    assert not task.done(), daemon.stop_reason
    return Run(daemon, task)


async def walk(gw: Gateway, seconds: float, pause: float = 0.01) -> None:
    """Move the manual clock in 5-second steps, giving the bot ``pause`` wall seconds after
    each (to reconnect, resubscribe, poll the server's time)."""
    for _ in range(int(seconds / 5)):
        await gw.advance(timedelta(seconds=5))
        await asyncio.sleep(pause)


async def walk_in_step(run: Run, gw: Gateway, seconds: float) -> None:
    """``walk`` in lockstep with the connected in-process daemon: before each step, the
    daemon's own lockstep barrier (bot/live/replay.py: it has read all the last step sent, and
    the gateway its answers), so no bar and no order depends on how fast the loop turns."""
    d = run.daemon
    assert d.ready is not None
    barrier = Lockstep(d.ready, d.venue, gw, lambda: d.scans)
    for _ in range(int(seconds / 5)):
        await gw.advance(timedelta(seconds=5))
        await barrier()


async def until_trading(run: Run, timeout: float = 10.0) -> None:
    """The supervisor is connected and every stream is live again."""
    d = run.daemon

    def live() -> bool:
        sup, feed = d.supervisor, d.feed
        return (sup is not None and sup.state is ConnState.CONNECTED and feed is not None
                and feed.started and d.ib.isConnected()
                and not any(s.warming for s in feed.streams.values()))  # fmt: skip

    await wait_until(live, timeout, what="trading again")


def ceil_minute(t: datetime) -> datetime:
    floor = t.replace(second=0, microsecond=0)
    return floor if floor == t else floor + M1


async def check_invariants(run: Run, gw: Gateway, fault_end: datetime, caplog_text: str) -> None:
    """After a fault ended at ``fault_end`` and the clock moved 2 bar intervals past it."""
    s = run.strategy
    # Live again within 2 bar intervals: the first bar wholly after the fault's end.
    first_after = ceil_minute(fault_end)
    for sym in ("AAPL", "MSFT"):
        await wait_until(lambda sym=sym: any(b.symbol == sym and b.time >= first_after
                                        for b in s.bars), 5,
                         what=f"a live {sym} bar starting at {first_after:%H:%M:%S}")  # fmt: skip
        check_gapless(run, gw, sym)
    await wait_until(lambda: positions_agree(run, gw), 5, what="bot positions equal the broker's")
    assert "Error 162" not in caplog_text and "pacing violation" not in caplog_text


def seen_bars(run: Run, sym: str) -> list[Any]:
    """Every bar of ``sym`` the strategy saw (warm-up and live), in arrival order."""
    s = run.strategy
    return sorted((b for b in [*s.warm, *s.bars] if b.symbol == sym), key=lambda b: b.end)


def check_gapless(run: Run, gw: Gateway, sym: str) -> None:
    s = run.strategy
    order = [b.time for b in s.warm if b.symbol == sym]
    assert order == sorted(set(order)), f"{sym}: warm-up bars repeated or out of order"
    live = [b.time for b in s.bars if b.symbol == sym]
    assert live == sorted(set(live)), f"{sym}: live bars repeated or out of order"
    seen = seen_bars(run, sym)
    times = [b.time for b in seen]
    assert len(times) == len(set(times)), f"{sym}: a bar reached the strategy twice"
    assert set(order).isdisjoint(live), f"{sym}: a bar was both warm-up and live"
    con_id = gw.instruments.by_symbol(sym).con_id
    end = seen[-1].end
    span = int((end - seen[0].time).total_seconds())
    ref = gw.market.history.historical_bars(con_id, end, f"{span} S", "1 min", "TRADES", True, end)
    want = [(b.date.astimezone(UTC), b.open, b.high, b.low, b.close) for b in ref]
    got = [(b.time, b.open, b.high, b.low, b.close) for b in seen]
    assert got == want, f"{sym}: the bars seen differ from the market's"


def broker_positions(gw: Gateway) -> dict[str, float]:
    rows = gw.broker.account(PAPER).position_rows()
    return {r.contract.symbol: r.position for r in rows if r.position}


def positions_agree(run: Run, gw: Gateway) -> bool:
    assert run.daemon.router is not None
    return run.daemon.router.positions() == broker_positions(gw)


@contextlib.asynccontextmanager
async def occupy(gw: Gateway, client_id: int) -> AsyncIterator[IB]:
    """Another program connected with ``client_id`` for the duration."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", gw.port, clientId=client_id, timeout=5)
    try:
        yield ib
    finally:
        ib.disconnect()
        await wait_until(lambda: client_id not in gw.sessions, what=f"client {client_id} gone")
