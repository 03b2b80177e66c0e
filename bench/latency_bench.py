"""Daemon latency: from a bar event to the order written to the socket, and per-bar cost vs
history length.

    .venv/bin/python bench/latency_bench.py [--symbols 50] [--minutes 200]

What is timed: ib_insync's decoder hands a 5-second real-time bar to ``wrapper.realtimeBar``
(t0); the bot aggregates it, and when it closes a 1-minute bar runs the IndicatorSets, both
strategies, RiskManager.check and OrderExecutor.submit, which calls ``ib.placeOrder``; t1 is when
ib_insync hands the encoded message to the connection (``conn.sendMsg``, patched to record the
time instead of writing to a socket). Socket reads and message decoding are outside [t0, t1] for
both the bot and the floor: a bare ib_insync script that places the same market order from its own
real-time-bar callback. The difference is the bot's own work.

Set-up (outside the timed region): ib_insync's client is put in the connected state over a fake
connection; between bar rounds a tiny fake broker fills every order (orderStatus + execDetails
through ib_insync's wrapper, as the socket would), the journal's commit timer is run and the
event loop turns once (the order pruning pass the executor handed it runs), as between two bar
times. Pacing (40 msg/s) and ib_insync's own 45 req/s throttle
are lifted so every order of a round goes out at once: the bench measures work, not policy.

Part 2: the same daemon after 1k vs 100k bars of warm-up history per symbol: per-bar cost of the
whole path must not grow with history (indicators are O(1) per bar).
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import math
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from ib_insync import IB, BarData, Contract, Execution, MarketOrder
from ib_insync.client import Client

from bot.config.bars import BarSpec
from bot.config.executor import ExecutorConfig
from bot.config.risk import RiskConfig
from bot.config.strategies import Sizing
from bot.journal.store import Journal
from bot.market_data.ib_feed import Feed
from bot.model.events import Bar, OrderIntent, OrderSpec, PlaceOrder, Side
from bot.ops.freshness import BarClock
from bot.ops.metrics import Metrics
from bot.orders.executor import OrderExecutor
from bot.orders.message_rate import PacingGovernor
from bot.risk.manager import RiskManager
from bot.strategy.api import Strategy
from bot.strategy.context import SymbolInfo
from bot.strategy.indicators import ATR, MACD, RSI, IndicatorSpec
from bot.trading.router import Clock, Router
from bot.venues.ib import IbBroker
from strategies.sma_crossover import SmaCrossover, SmaCrossoverParams

NY = ZoneInfo("US/Eastern")
T0 = datetime(2026, 10, 29, 13, 30, tzinfo=UTC)
ACCOUNT = "DU1234567"


class EveryBar(Strategy[Any]):
    """The second strategy: three indicators, and a market order on every closed bar."""

    def indicators(self) -> Mapping[str, IndicatorSpec]:
        return {"macd": MACD(12, 26, 9), "rsi": RSI(14), "atr": ATR(14)}

    def on_bar(self, bar: Bar) -> list[OrderIntent]:
        c = self.ctx
        (
            c.indicator(bar.symbol, "macd"),
            c.indicator(bar.symbol, "rsi"),
            c.indicator(bar.symbol, "atr"),
        )
        side = Side.BUY if c.position(bar.symbol) <= 0 else Side.SELL
        return [PlaceOrder(bar.symbol, OrderSpec(side, 1), tag="t")]


class FakeConn:
    """Where ib_insync would write to the socket: record when each message arrives."""

    numBytesSent = 0
    numMsgSent = 0

    def __init__(self) -> None:
        self.sent_at: list[int] = []

    def sendMsg(self, msg: bytes) -> None:
        self.sent_at.append(time.perf_counter_ns())

    def disconnect(self) -> None:
        pass


def connected_ib() -> tuple[IB, FakeConn]:
    ib = IB()
    conn = FakeConn()
    c = ib.client
    c.conn = conn  # type: ignore[assignment]
    c.connState = Client.CONNECTED
    c._serverVersion = 176
    c._apiReady = True
    c._hasReqId = True
    c._reqIdSeq = 1
    c.MaxRequests = 0
    ib.wrapper.clientId = 1
    ib.wrapper.accounts = [ACCOUNT]
    return ib, conn


def contracts(n: int) -> list[Contract]:
    return [Contract(conId=1000 + i, symbol=f"S{i:03d}", secType="STK", exchange="SMART",
                     primaryExchange="NASDAQ", currency="USD") for i in range(n)]  # fmt: skip


def price(i: int, k: int) -> float:
    return 100.0 + 10 * math.sin(k / 37.0 + i) + (k % 7) * 0.01


class FakeBroker:
    """Fills every order ib_insync placed since the last call, through the wrapper."""

    def __init__(self, ib: IB) -> None:
        self.ib = ib
        self.perm = 1000
        self.exec = 0
        self.done: set[int] = set()

    def fill_all(self, when: datetime) -> None:
        w = self.ib.wrapper
        for trade in list(w.trades.values()):
            o = trade.order
            if o.orderId in self.done:
                continue
            self.done.add(o.orderId)
            self.perm += 1
            self.exec += 1
            qty = float(o.totalQuantity)
            px = 100.0
            w.orderStatus(o.orderId, "Submitted", 0, qty, 0, self.perm, 0, 0, 1, "")
            ex = Execution(execId=f"e{self.exec}", time=when, acctNumber=ACCOUNT,
                           side="BOT" if o.action == "BUY" else "SLD", shares=qty, price=px,
                           permId=self.perm, clientId=1, orderId=o.orderId, cumQty=qty,
                           avgPrice=px, orderRef=o.orderRef)  # fmt: skip
            w.execDetails(-1, trade.contract, ex)
            w.orderStatus(o.orderId, "Filled", qty, 0, px, self.perm, 0, px, 1, "")


def history(i: int, n: int, end: datetime) -> list[BarData]:
    start = end - timedelta(minutes=n)
    out = []
    for k in range(n):
        p = price(i, k)
        out.append(BarData(date=start + timedelta(minutes=k), open=p, high=p + 0.2,
                           low=p - 0.2, close=p + 0.05, volume=1000))  # fmt: skip
    return out


class Daemon:
    """The bot's event path, built as bot/live/daemon.py builds it, over the fake connection."""

    def __init__(self, n_symbols: int, history_bars: int, journal_path: Path) -> None:
        self.ib, self.conn = connected_ib()
        self.contracts = contracts(n_symbols)
        self.journal = Journal(journal_path)
        self.journal.begin_run(now=T0, account=ACCOUNT, mode="paper", dry_run=False)
        self.clock = Clock(T0)
        self.executor = OrderExecutor(
            IbBroker(self.ib), ExecutorConfig(), self.journal, account=ACCOUNT, dry_run=False,
            now=self.clock.now, pacing=PacingGovernor(rate=1e9, burst=1_000_000),
        )  # fmt: skip
        infos = {c.symbol: SymbolInfo(c.symbol, c, 0.01, NY) for c in self.contracts}
        for sym, info in infos.items():
            self.executor.register_contract(sym, info.contract, info.min_tick)
        risk = RiskManager(RiskConfig(max_orders_per_minute=None), self.journal)
        prices: dict[str, float] = {}
        pnl = self.executor.portfolio
        router = Router(
            risk=risk, executor=self.executor, infos=infos, clock=self.clock, prices=prices, pnl=pnl
        )
        metrics = Metrics(BarClock())  # as in ibbot run: metrics on the event path
        router.bar_event += metrics.bar
        router.intent_event += metrics.order
        router.rejection_event += metrics.rejection
        router.fill_event += metrics.fill
        feed = Feed(self.ib, router.on_bar, router.on_tick)
        router.prices = feed.last_price
        router.pnl.marks = feed.last_price
        symbols = [c.symbol for c in self.contracts]
        bars = BarSpec(size="1 min", warmup="1 Y")
        for sid, cls, params in (
            ("sma", SmaCrossover, SmaCrossoverParams(fast=10, slow=30)),
            ("every", EveryBar, None),
        ):
            settings = _Settings(sid, symbols)
            router.add_strategy(settings, cls, params)  # type: ignore[arg-type]
            router.attach(feed, sid, bars)
        self.executor.fill_event += router.on_fill
        self.router, self.feed = router, feed
        self.broker = FakeBroker(self.ib)
        # Subscribe and warm up exactly as Feed.start does, with the history handed in.
        now = T0
        for s in feed.streams.values():
            feed._subscribe(s)
        for i, s in enumerate(feed.streams.values()):
            feed.take_history(s, history(i, history_bars, now), now)
        for s in feed.streams.values():
            feed._go_live(s)
        self.rt_ids = [s.rt.reqId for s in feed.streams.values()]  # type: ignore[union-attr]
        self.journal.flush()


class _Settings:
    def __init__(self, sid: str, symbols: list[str]) -> None:
        self.id, self.symbols, self.on_error, self.ticks = sid, symbols, "disable", False
        self.sizing = Sizing(fixed=1)


async def run_rounds(
    ib: IB, conn: FakeConn, rt_ids: list[int], minutes: int, between: Callable[[datetime], None]
) -> tuple[list[float], list[float]]:
    """Feed ``minutes`` x 12 five-second bars per symbol; return the latency (bar event -> order
    on the wire) of each closing bar, and the total per-bar cost of each closing bar (µs)."""
    latency: list[float] = []
    cost: list[float] = []
    realtime_bar = ib.wrapper.realtimeBar
    perf = time.perf_counter_ns
    for m in range(minutes):
        base = T0 + timedelta(minutes=m)
        for j in range(12):
            t = int((base + timedelta(seconds=5 * j)).timestamp())
            closing = j == 11
            for i, req in enumerate(rt_ids):
                p = price(i, m * 12 + j)
                n_sent = len(conn.sent_at)
                t0 = perf()
                realtime_bar(req, t, p, p + 0.1, p - 0.1, p + 0.02, 100, p, 10)
                t1 = perf()
                if closing:
                    if len(conn.sent_at) > n_sent:
                        latency.append((conn.sent_at[n_sent] - t0) / 1000)
                    cost.append((t1 - t0) / 1000)
        between(base + timedelta(minutes=1))
        await asyncio.sleep(0)  # the loop's turn: callbacks scheduled by the bars run
    return latency, cost


async def floor_rounds(n_symbols: int, minutes: int) -> list[float]:
    """The bare ib_insync script: place the same market order from its own bar callback."""
    ib, conn = connected_ib()
    rt_ids = []
    for c in contracts(n_symbols):
        bars = ib.reqRealTimeBars(c, 5, "TRADES", True)
        count = [0]

        def on_bar(bars: Any, has_new: bool, c: Contract = c, count: list[int] = count) -> None:
            count[0] += 1
            if count[0] % 12 == 0:
                ib.placeOrder(c, MarketOrder("BUY", 1))

        bars.updateEvent += on_bar
        rt_ids.append(bars.reqId)
    broker = FakeBroker(ib)
    gc.collect()
    gc.freeze()
    latency, _ = await run_rounds(ib, conn, rt_ids, minutes, broker.fill_all)
    gc.unfreeze()
    return latency


async def bot_rounds(
    n_symbols: int, minutes: int, history_bars: int, tmp: Path
) -> tuple[list[float], list[float]]:
    d = Daemon(n_symbols, history_bars, tmp / f"journal-{n_symbols}-{history_bars}.sqlite")

    def between(now: datetime) -> None:  # what the loop does between two bar times
        d.broker.fill_all(now)
        d.journal.flush()

    gc.collect()
    gc.freeze()
    out = await run_rounds(d.ib, d.conn, d.rt_ids, minutes, between)
    gc.unfreeze()
    assert d.router.counters.strategy_errors == 0
    return out


def pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


def show(name: str, xs: list[float]) -> str:
    return (f"{name:<34} n={len(xs):>6}  p50 {pct(xs, 0.5):8.1f} µs  p99 {pct(xs, 0.99):8.1f} µs"
            f"  mean {statistics.fmean(xs):8.1f} µs")  # fmt: skip


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp_s:
        tmp = Path(tmp_s)
        print(
            f"== bar event -> order on the wire: {args.symbols} symbols, 2 strategies, "
            f"1-minute bars from 5-second bars, {args.minutes} bar closes per symbol =="
        )
        floor = await floor_rounds(args.symbols, args.minutes)
        bot_lat, _ = await bot_rounds(args.symbols, args.minutes, 1000, tmp)
        print(show("floor (bare ib_insync callback)", floor))
        print(show("bot (feed+indicators+2 strategies+risk+executor)", bot_lat))
        own50 = pct(bot_lat, 0.5) - pct(floor, 0.5)
        own99 = pct(bot_lat, 0.99) - pct(floor, 0.99)
        verdict = "OK" if own99 < 200 else "OVER TARGET"
        print(f"bot's own work (bot - floor): p50 {own50:.1f} µs, p99 {own99:.1f} µs "
              f"(target p99 < 200 µs: {verdict})")  # fmt: skip
        if len(bot_lat) == len(floor):  # same (minute, symbol) order: pair the samples
            paired = [b - f for b, f in zip(bot_lat, floor, strict=True)]
            print(show("  paired per bar (bot_i - floor_i)", paired))
            n = args.symbols
            warm_b = [x for k, x in enumerate(bot_lat) if k % n]
            warm_f = [x for k, x in enumerate(floor) if k % n]
            print(
                f"  without each round's first symbol (cold caches after the quiet period): "
                f"bot p99 {pct(warm_b, 0.99):.1f} µs, floor p99 {pct(warm_f, 0.99):.1f} µs"
            )

        print(f"\n== per-bar cost vs history ({args.hist_symbols} symbols, 2 strategies, "
              f"{args.minutes} bar closes) ==")  # fmt: skip
        rows = []
        for n_hist in (1_000, 100_000):
            t = time.perf_counter()
            _, cost = await bot_rounds(args.hist_symbols, args.minutes, n_hist, tmp)
            rows.append(cost)
            print(show(f"{n_hist:>7} bars of history", cost) +
                  f"  (warm-up + run {time.perf_counter() - t:.1f} s)")  # fmt: skip
        ratio50 = pct(rows[1], 0.5) / pct(rows[0], 0.5)
        ratio_mean = statistics.fmean(rows[1]) / statistics.fmean(rows[0])
        print(f"ratio 100k/1k: p50 {ratio50:.2f}, mean {ratio_mean:.2f} (should be near 1)")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--symbols", type=int, default=50)
    p.add_argument("--minutes", type=int, default=200)
    p.add_argument("--hist-symbols", type=int, default=2)
    asyncio.run(main(p.parse_args()))
