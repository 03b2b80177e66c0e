"""Cost of one risk decision with every limit on, p50 and p99, against a baseline measured in the
same run (the minimal check: order completeness and max_order_notional only).

    .venv/bin/python bench/risk_bench.py [--n 50000] [--runs 5]

Both run RiskManager.check on approved market and limit orders and targets for two strategies
over a portfolio holding 20 symbols (account sums, exposure, working orders, collar, window,
rates and duplicates all evaluated); the journal only buffers. Garbage collection stays on
during the timed decisions, as in the daemon (a collection an allocation in ``check`` triggers
counts in the figures; the number of collections per run is printed). Target: p99 under 20 µs.
"""

from __future__ import annotations

import argparse
import gc
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ib_insync import Contract

from bot.config.risk import RiskConfig, RiskLimits
from bot.journal.store import Journal
from bot.model.events import (
    OrderIntent,
    OrderSpec,
    OrderType,
    PlaceOrder,
    Side,
    TargetPosition,
    WorkingOrder,
)
from bot.portfolio.book import Portfolio
from bot.risk.manager import RiskManager
from bot.strategy.context import SymbolInfo, parse_sessions

NY = ZoneInfo("America/New_York")
T0 = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
SYMBOLS = [f"S{i:02d}" for i in range(20)]
HOURS = "20240304:0930-20240304:1600"

EVERY = dict(
    max_position=10_000, max_position_notional=5e6, max_gross_exposure=1e8,
    max_net_exposure=1e8, max_order_quantity=1_000, max_order_notional=1e6, max_open_orders=500,
    max_orders_per_minute=10**9, max_orders_per_day=10**9, price_collar_pct=20.0,
    daily_loss_limit=1e9, max_drawdown=1e9, session_only=True, no_entries_before_close_min=5,
    allow_short=False, cooldown_after_losses=5, duplicate_window_s=0.5,
    allowed_order_types=("MKT", "LMT", "STP"),
)  # fmt: skip


class Orders:
    def __init__(self) -> None:
        spec = OrderSpec(Side.BUY, 10, OrderType.LIMIT, limit_price=99.0)
        self.views = {s: [WorkingOrder(s, "w", 1, spec, 0, "Submitted")] for s in SYMBOLS}

    def open_orders(self, strategy_id: str | None) -> int:
        return 20

    def working_on(self, symbol: str) -> list[WorkingOrder]:
        return self.views[symbol]


def manager(journal: Journal, full: bool) -> RiskManager:
    marks = {s: 100.0 for s in SYMBOLS}
    pf = Portfolio(NY, marks)
    for i, s in enumerate(SYMBOLS):
        pf.on_fill("a" if i % 2 else "b", s, 10, 100.0, T0)
    if not full:
        return RiskManager(RiskConfig(max_order_notional=1e6, max_orders_per_minute=None),
                           journal, portfolio=pf)  # fmt: skip
    infos = {s: SymbolInfo(s, Contract(conId=i), 0.01, NY, parse_sessions(HOURS, NY))
             for i, s in enumerate(SYMBOLS)}  # fmt: skip
    return RiskManager(RiskConfig(**EVERY), journal, portfolio=pf, orders=Orders(), infos=infos,
                       strategies={"a": RiskLimits(**EVERY), "b": RiskLimits(**EVERY)})  # fmt: skip


def intents() -> list[tuple[str, OrderIntent]]:
    out: list[tuple[str, OrderIntent]] = []
    for i, s in enumerate(SYMBOLS):
        sid = "a" if i % 2 else "b"
        out.append((sid, PlaceOrder(s, OrderSpec(Side.BUY, 5), tag=f"m{i}")))
        lmt = OrderSpec(Side.BUY, 5, OrderType.LIMIT, limit_price=101.0)
        out.append((sid, PlaceOrder(s, lmt, tag=f"l{i}")))
        out.append((sid, TargetPosition(s, 20.0)))
    return out


def measure(r: RiskManager, n: int) -> tuple[list[float], int]:
    """Latencies in µs, and how many garbage collections ran meanwhile."""
    todo = intents()
    pf = r.portfolio
    lat: list[float] = []
    now = T0
    step = timedelta(milliseconds=10)  # a repeat of one intent comes 0.6 s later
    collections = _collections()  # garbage collection stays on, as in the daemon
    for k in range(n):
        sid, intent = todo[k % len(todo)]
        symbol = intent.symbol  # type: ignore[union-attr]
        now += step
        t0 = time.perf_counter_ns()
        d = r.check(sid, intent, position=pf.get(sid, symbol), ref_price=100.0, now=now)
        lat.append((time.perf_counter_ns() - t0) / 1000.0)
        if d is not None and not isinstance(d, TargetPosition):
            raise SystemExit(f"unexpected refusal: {d}")
        if k % 5000 == 4999:
            r.journal.flush()
    return lat, _collections() - collections


def _collections() -> int:
    return sum(g["collections"] for g in gc.get_stats())


def line(name: str, lat: list[float], collections: int) -> str:
    q = statistics.quantiles(lat, n=100)
    return (f"{name:<38} n={len(lat):>7}  p50 {q[49]:7.2f} µs  p99 {q[98]:7.2f} µs  "
            f"mean {statistics.fmean(lat):7.2f} µs  gc {collections}")  # fmt: skip


def main(args: argparse.Namespace) -> int:
    """``--runs`` alternating rounds (baseline, then every limit on, each on a fresh manager):
    on a shared machine one round's p99 is noise, the minimum and median over rounds and the
    same-round ratio to the baseline are the figures to compare. The verdict reads the median
    p99 over rounds (the target is to be met reliably, not in the luckiest round)."""
    print("== one risk decision (RiskManager.check), 2 strategies, 20 symbols held ==")
    p99s: list[float] = []
    ratios: list[float] = []
    with tempfile.TemporaryDirectory() as tmp:
        journal = Journal(Path(tmp) / "bench.sqlite", max_pending=10**9)
        for run in range(1, args.runs + 1):
            base, base_gc = measure(manager(journal, full=False), args.n)
            full, full_gc = measure(manager(journal, full=True), args.n)
            print(line(f"#{run} baseline (completeness + notional)", base, base_gc))
            print(line(f"#{run} every limit on", full, full_gc))
            p99 = statistics.quantiles(full, n=100)[98]
            p99s.append(p99)
            ratios.append(p99 / statistics.quantiles(base, n=100)[98])
        journal.close()
    best, median = min(p99s), statistics.median(p99s)
    verdict = "OK" if median < 20.0 else "OVER TARGET"  # reliably: the median run, not the best
    print(f"every limit on over {args.runs} runs: p99 min {best:.2f} µs, median {median:.2f} µs; "
          f"p99 / same-run baseline p99: median {statistics.median(ratios):.2f} "
          f"(target p99 < 20 µs: {verdict})")  # fmt: skip
    return 0


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--n", type=int, default=50_000, help="decisions per configuration and run")
    p.add_argument("--runs", type=int, default=5, help="alternating rounds (min/median shown)")
    sys.exit(main(p.parse_args()))
