"""Router routing with small fakes: warm-up, indicators, risk, executor, fills, crashes, kill."""

from __future__ import annotations

import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import pytest
from ib_insync import Contract
from support.fake_ib import FakeIB
from support.times import NY, T0

from bot.config.bars import BarSpec
from bot.config.risk import RiskConfig
from bot.config.strategies import Sizing
from bot.journal.store import Journal
from bot.market_data.ib_feed import Feed, StreamKey
from bot.model.events import (
    Bar,
    CancelOrder,
    FillEvent,
    KillSwitch,
    ModifyOrder,
    OrderIntent,
    OrderSpec,
    OrderType,
    PlaceBracket,
    PlaceOrder,
    Rejection,
    Side,
    TargetPosition,
    Tick,
    WorkingOrder,
)
from bot.portfolio.book import Portfolio
from bot.risk.manager import RiskManager
from bot.strategy.api import Strategy
from bot.strategy.context import SymbolInfo, next_trading_day, parse_sessions
from bot.strategy.indicators import SMA, IndicatorSpec
from bot.trading.router import Clock, Router, describe

M1 = timedelta(minutes=1)


class FakeRisk:
    def __init__(self) -> None:
        self.checked: list[tuple[str, OrderIntent, float, float]] = []
        self.refuse: set[str] = set()  # symbols to refuse
        self.killed: list[tuple[str, str | None]] = []

    def check(self, strategy_id: str, intent: OrderIntent, *, position: float,
              ref_price: float, now: datetime,
              working: Mapping[str, WorkingOrder] | None = None) -> Rejection | None:  # fmt: skip
        self.checked.append((strategy_id, intent, position, ref_price))
        if getattr(intent, "symbol", None) in self.refuse:
            return Rejection(strategy_id, intent, "refused", now)
        return None

    def kill(self, reason: str, *, strategy_id: str | None, now: datetime) -> None:
        self.killed.append((reason, strategy_id))

    def on_bar(self, symbol: str, now: object) -> None:
        pass

    def observe_bar(self, bar: object) -> None:
        pass

    def on_tick(self, symbol: str, now: object) -> None:
        pass


class FakeExecutor:
    def __init__(self) -> None:
        self.submitted: list[tuple[str, OrderIntent, float]] = []
        self.pos: dict[tuple[str, str], float] = {}
        self.prices: dict[str, float] = {}

    def position(self, strategy_id: str, symbol: str) -> float:
        return self.pos.get((strategy_id, symbol), 0.0)

    def working_orders(self, strategy_id: str, symbol: str) -> Mapping[str, WorkingOrder]:
        return {}

    def submit(self, strategy_id: str, intent: OrderIntent, *, ref_price: float) -> None:
        self.submitted.append((strategy_id, intent, ref_price))

    def update_bar(self, symbol: str, open_: float, high: float, low: float, close: float,
                   time: datetime) -> None:  # fmt: skip
        self.prices[symbol] = close

    def commission(self, strategy_id: str) -> float:
        return 0.0


class FakeFeed:
    def __init__(self) -> None:
        self.keys: list[StreamKey] = []
        self.ticks: list[str] = []

    def add_bars(self, symbol: str, contract: Contract, tz: Any, *, bar_size: str, size_s: int,
                 what_to_show: str, use_rth: bool, warmup: str,
                 source: str = "realtime") -> StreamKey:  # fmt: skip
        key = StreamKey(symbol, contract.conId, bar_size, size_s, what_to_show, use_rth, source)
        if key not in self.keys:
            self.keys.append(key)
        return key

    def add_ticks(self, symbol: str, contract: Contract) -> None:
        self.ticks.append(symbol)

    def add_tick_by_tick(self, symbol: str, contract: Contract, what: str) -> None:
        self.ticks.append(f"{symbol}:{what}")


@dataclass
class Settings:
    id: str
    symbols: list[str]
    sizing: Sizing = field(default_factory=lambda: Sizing(fixed=10))
    on_error: Literal["disable", "continue"] = "disable"
    ticks: Any = False


class Scripted(Strategy[Any]):
    """Buys when SMA(2) rises, records everything it sees; ``boom`` makes on_bar raise."""

    def __init__(self, ctx: Any, params: Any) -> None:
        super().__init__(ctx, params)
        self.seen: list[Bar] = []
        self.fills: list[FillEvent] = []
        self.ticks: list[Tick] = []
        self.boom = False
        self.extra: list[OrderIntent] = []
        self.warm: list[tuple[Bar, float]] = []  # warm-up bars with the SMA they saw

    def on_warmup_bar(self, bar: Bar) -> None:
        self.warm.append((bar, self.ctx.indicator(bar.symbol, "sma")))
        if self.boom:
            raise RuntimeError("boom")

    def indicators(self) -> Mapping[str, IndicatorSpec]:
        return {"sma": SMA(2)}

    def wants_ticks(self) -> bool:
        return True

    def on_bar(self, bar: Bar) -> Iterator[OrderIntent]:
        self.seen.append(bar)
        if self.boom:
            raise RuntimeError("boom")
        now, prev = self.ctx.indicator(bar.symbol, "sma"), self.ctx.indicator(bar.symbol, "sma", 1)
        if not math.isnan(prev) and now > prev:
            qty = self.ctx.quantity_for(bar.symbol, bar.close)
            yield PlaceOrder(bar.symbol, OrderSpec(Side.BUY, qty), reason="sma up")
        yield from self.extra

    def on_tick(self, tick: Tick) -> list[OrderIntent]:
        self.ticks.append(tick)
        return []

    def on_fill(self, fill: FillEvent) -> list[OrderIntent]:
        self.fills.append(fill)
        stop = OrderSpec(Side.SELL, fill.quantity, OrderType.STOP, stop_price=fill.price - 1)
        return [PlaceOrder(fill.symbol, stop, tag="stop")]


def info(symbol: str, con_id: int) -> SymbolInfo:
    return SymbolInfo(symbol, Contract(conId=con_id, symbol=symbol), 0.01, NY)


@pytest.fixture
def world() -> tuple[Router, FakeRisk, FakeExecutor, FakeFeed]:
    risk, ex, feed = FakeRisk(), FakeExecutor(), FakeFeed()
    prices: dict[str, float] = {}
    router = Router(
        risk=risk,
        executor=ex,
        infos={"AAPL": info("AAPL", 1), "MSFT": info("MSFT", 2)},
        clock=Clock(T0),
        prices=prices,
        pnl=Portfolio(NY, prices),
    )
    return router, risk, ex, feed


def bar(symbol: str, i: int, close: float) -> Bar:
    t = T0 + timedelta(minutes=15 * i)
    return Bar(symbol, t, close, close, close, close, 100, 900)


def add(router: Router, feed: FakeFeed, sid: str, symbols: list[str], **kw: Any) -> Scripted:
    slot = router.add_strategy(Settings(sid, symbols, **kw), Scripted, None)  # type: ignore[arg-type]
    router.attach(feed, sid, BarSpec())  # type: ignore[arg-type]
    assert isinstance(slot.strategy, Scripted)
    return slot.strategy


def test_warm_up_updates_indicators_without_orders_then_live_bars_trade(world: Any) -> None:
    router, _, ex, feed = world
    s = add(router, feed, "s1", ["AAPL"])
    (key,) = feed.keys
    for i, close in enumerate([10, 11, 12]):  # rising, but warm-up: no strategy call
        router.on_bar(key, bar("AAPL", i, close), False)
    assert s.seen == [] and ex.submitted == []
    assert s.ctx.indicator("AAPL", "sma") == 11.5
    # on_warmup_bar saw each bar after the indicators took it (SMA(2): NaN, 10.5, 11.5).
    assert [b.close for b, _ in s.warm] == [10, 11, 12]
    assert math.isnan(s.warm[0][1]) and [v for _, v in s.warm[1:]] == [10.5, 11.5]
    router.on_bar(key, bar("AAPL", 3, 13), True)
    assert [b.close for b in s.seen] == [13]
    ((sid, intent, ref),) = ex.submitted
    assert sid == "s1" and isinstance(intent, PlaceOrder) and intent.order.quantity == 10
    assert ref == 13  # the last close: the feed had no fresher price
    assert router.clock.now() == T0 + timedelta(minutes=60)
    assert ex.prices["AAPL"] == 13
    assert router.counters.orders == 1 and router.counters.bars == 1


def test_strategies_on_one_stream_share_the_subscription_and_indicators(world: Any) -> None:
    router, _, ex, feed = world
    a = add(router, feed, "a", ["AAPL"])
    b = add(router, feed, "b", ["AAPL", "MSFT"])
    assert len(feed.keys) == 2  # AAPL 15 mins shared, MSFT 15 mins
    assert feed.ticks == ["AAPL", "AAPL", "MSFT"]
    aapl = feed.keys[0]
    for i, close in enumerate([10, 11, 12]):
        router.on_bar(aapl, bar("AAPL", i, close), True)
    assert len(a.seen) == len(b.seen) == 3
    assert a.ctx.indicator("AAPL", "sma") == b.ctx.indicator("AAPL", "sma") == 11.5
    assert [s for s, _, _ in ex.submitted] == ["a", "b"]


def test_a_crashing_strategy_is_disabled_and_the_others_go_on(world: Any, caplog: Any) -> None:
    router, _, ex, feed = world
    bad = add(router, feed, "bad", ["AAPL"])
    good = add(router, feed, "good", ["AAPL"])
    tolerant = add(router, feed, "tolerant", ["AAPL"], on_error="continue")
    bad.boom = tolerant.boom = True
    key = feed.keys[0]
    for i, close in enumerate([10, 11, 12]):
        router.on_bar(key, bar("AAPL", i, close), True)
    assert len(bad.seen) == 1 and len(good.seen) == 3 and len(tolerant.seen) == 3
    assert not router.slots["bad"].enabled and router.slots["tolerant"].enabled
    assert router.counters.strategy_errors == 4
    assert [s for s, _, _ in ex.submitted] == ["good"]
    assert "strategy bad raised on bar Bar(symbol='AAPL'" in caplog.text
    assert "disabled" in caplog.text


def test_rejected_intents_never_reach_the_executor(world: Any) -> None:
    router, risk, ex, feed = world
    s = add(router, feed, "s1", ["AAPL", "MSFT"])
    risk.refuse.add("AAPL")
    s.extra = [
        PlaceOrder("MSFT", OrderSpec(Side.BUY, 1)),
        PlaceOrder("NVDA", OrderSpec(Side.BUY, 1)),
    ]
    for i, close in enumerate([10, 11, 12]):
        router.on_bar(feed.keys[0], bar("AAPL", i, close), True)
    assert [i.symbol for _, i, _ in ex.submitted] == ["MSFT"] * 3  # type: ignore[union-attr]
    assert router.counters.rejections == 1 + 3  # AAPL by risk; NVDA (not its symbol) 3 times
    assert [i.symbol for _, i, _, _ in risk.checked].count("NVDA") == 0  # type: ignore[attr-defined]


def test_fills_go_to_the_owning_strategy_and_its_answers_are_dispatched(world: Any) -> None:
    router, _, ex, feed = world
    a = add(router, feed, "a", ["AAPL"])
    b = add(router, feed, "b", ["AAPL"])
    fill = FillEvent("AAPL", "entry", Side.BUY, 10, 100.0, 0.0, T0, 7, "e1")
    for sid in ("b", "someone-else"):  # the executor books each fill in the portfolio first
        router.pnl.on_fill(sid, "AAPL", 10, 100.0, T0)
    router.on_fill("b", fill)
    router.on_fill("someone-else", fill)  # adopted from an old run: booked, not routed
    assert a.fills == [] and b.fills == [fill]
    ((sid, intent, _),) = ex.submitted
    assert sid == "b" and isinstance(intent, PlaceOrder) and intent.tag == "stop"
    assert router.positions() == {"AAPL": 20}


def test_kill_switch_halts_then_cancels_and_flattens(world: Any) -> None:
    router, risk, ex, feed = world
    s = add(router, feed, "s1", ["AAPL"])
    s.extra = [KillSwitch("drawdown")]
    router.on_bar(feed.keys[0], bar("AAPL", 0, 10), True)
    assert risk.killed == [("drawdown", "s1")]
    assert [type(i).__name__ for _, i, _ in ex.submitted] == ["KillSwitch"]
    router.kill(KillSwitch("operator", scope="all"), None)
    assert risk.killed[-1] == ("operator", None)
    assert router.counters.kills == ["s1: drawdown", "all: operator"]


def test_a_crash_in_on_warmup_bar_disables_only_that_strategy(world: Any) -> None:
    router, _, _, feed = world
    bad, good = add(router, feed, "bad", ["AAPL"]), add(router, feed, "good", ["AAPL"])
    bad.boom = True
    for i, close in enumerate([10, 11]):
        router.on_bar(feed.keys[0], bar("AAPL", i, close), False)
    assert len(bad.warm) == 1 and len(good.warm) == 2
    assert not router.slots["bad"].enabled and router.slots["good"].enabled


async def test_bars_replayed_after_a_reconnect_reach_on_warmup_bar(world: Any) -> None:
    from test_feed import hist

    router, _, _, _ = world
    ib = FakeIB(T0 + timedelta(minutes=2, seconds=30), {1: [hist(T0, 100), hist(T0 + M1, 101)]})
    feed = Feed(ib, router.on_bar)  # type: ignore[arg-type]
    slot = router.add_strategy(Settings("s1", ["AAPL"]), Scripted, None)  # type: ignore[arg-type]
    router.infos["AAPL"] = info("AAPL", 1)
    router.attach(feed, "s1", BarSpec(size="1 min"))
    s = slot.strategy
    assert isinstance(s, Scripted)
    await feed.start()
    assert [b.time for b, _ in s.warm] == [T0, T0 + M1]
    feed.stop()  # disconnected; 15:02 .. 15:04 closed meanwhile and come back as history
    ib.history = {1: [hist(T0 + m * M1, 100 + m) for m in range(6)]}
    ib.now = T0 + timedelta(minutes=5, seconds=30)
    await feed.start()
    # The backfill: older bars as warm-up, never traded on; 15:04, closed 30 s ago, live.
    assert [b.time for b, _ in s.warm] == [T0 + m * M1 for m in range(4)]
    assert [b.time for b in s.seen] == [T0 + 4 * M1]


def test_a_strategy_kill_ends_its_day_not_its_later_days(tmp_path: Path) -> None:
    """The real risk stage: after Monday's kill, Monday's entries are refused, Tuesday's pass."""
    sessions = parse_sessions("20240304:0930-20240304:1600;20240305:0930-20240305:1600", NY)
    aapl = SymbolInfo("AAPL", Contract(conId=1, symbol="AAPL"), 0.01, NY, sessions)
    journal = Journal(tmp_path / "j.sqlite")
    risk = RiskManager(
        RiskConfig(max_orders_per_minute=None),
        journal,
        next_day=lambda sid, now: next_trading_day([aapl], now),
    )
    ex, feed, prices = FakeExecutor(), FakeFeed(), {}  # type: ignore[var-annotated]
    router = Router(risk=risk, executor=ex, infos={"AAPL": aapl}, clock=Clock(T0),
                    prices=prices, pnl=Portfolio(NY, prices))  # fmt: skip
    s = add(router, feed, "s1", ["AAPL"])
    key = feed.keys[0]
    router.on_bar(key, bar("AAPL", 0, 10), True)
    s.extra = [KillSwitch("daily loss")]
    router.on_bar(key, bar("AAPL", 1, 11), True)  # kills at 15:30 UTC Monday
    s.extra = []
    router.on_bar(key, bar("AAPL", 2, 12), True)  # SMA up: buy refused, halted for Monday
    tuesday = 4 * 24 - 2  # 15-minute bars from T0 (10:00 EST Monday) to 09:30 Tuesday
    router.on_bar(key, bar("AAPL", tuesday, 13), True)
    kinds = [type(i).__name__ for _, i, _ in ex.submitted]
    assert kinds == ["KillSwitch", "PlaceOrder"]
    assert ex.submitted[-1][1].order.quantity == 10  # type: ignore[union-attr]
    assert bar("AAPL", tuesday, 13).time == datetime(2024, 3, 5, 14, 30, tzinfo=UTC)
    assert router.counters.rejections == 1
    journal.close()


def test_ticks_reach_only_strategies_that_want_them(world: Any) -> None:
    router, _, _, feed = world
    s = add(router, feed, "s1", ["AAPL"])
    tick = Tick("AAPL", T0 + timedelta(seconds=1), 9.99, 10.01, 10.0)
    router.on_tick(tick)
    router.on_tick(Tick("MSFT", T0, 1, 1, 1))
    assert s.ticks == [tick]
    assert router.clock.now() == tick.time


def test_describe_intents_for_the_log() -> None:
    spec = OrderSpec(Side.BUY, 10, OrderType.LIMIT, limit_price=101.5)
    assert (
        describe(PlaceOrder("AAPL", spec, "entry", "why"))
        == "AAPL BUY 10 LMT lmt 101.50 [entry] (why)"
    )
    tp = OrderSpec(Side.SELL, 5, OrderType.LIMIT, 110)
    sl = OrderSpec(Side.SELL, 5, OrderType.STOP, stop_price=95)
    bracket = PlaceBracket("AAPL", OrderSpec(Side.BUY, 5), tp, sl)
    assert describe(bracket) == (
        "AAPL bracket BUY 5 MKT / tp SELL 5 LMT lmt 110.00 / sl SELL 5 STP stp 95.00 [bracket]"
    )
    assert (
        describe(ModifyOrder("AAPL", "stop", stop_price=96)) == "AAPL modify [stop] stop_price=96"
    )
    assert describe(CancelOrder("AAPL", "stop")) == "AAPL cancel [stop]"
    assert describe(TargetPosition("AAPL", 0)) == "AAPL target position 0"


class Spec:
    """A config TickSpec: what the engine reads of it."""

    def __init__(self, tick_by_tick: str | None) -> None:
        self.tick_by_tick = tick_by_tick


class AllLastLover(Scripted):
    def tick_type(self) -> str | None:
        return "AllLast"


def test_tick_kinds_come_from_the_config_else_the_strategy(world: Any) -> None:
    router, _, _, feed = world
    add(router, feed, "s1", ["AAPL"], ticks=Spec("BidAsk"))
    add(router, feed, "s2", ["MSFT"])  # Scripted: ticks, no preference: market data
    assert feed.ticks == ["AAPL:BidAsk", "MSFT"]
    router.add_strategy(Settings("s3", ["MSFT"], ticks=Spec(None)), AllLastLover, None)  # type: ignore[arg-type]
    router.attach(feed, "s3", BarSpec())  # type: ignore[arg-type]
    assert feed.ticks[-1] == "MSFT"  # the config's explicit market data wins
    router.add_strategy(Settings("s4", ["AAPL"]), AllLastLover, None)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=(
        "s4: ticks on AAPL as tick-by-tick AllLast, but s1 reads them as tick-by-tick BidAsk"
    )):  # fmt: skip
        router.attach(feed, "s4", BarSpec())  # type: ignore[arg-type]


def test_the_context_reads_ibs_pnl_through_the_engine() -> None:
    figures: dict[str, float] = {}  # none yet
    prices: dict[str, float] = {}
    router = Router(risk=FakeRisk(), executor=FakeExecutor(),
                    infos={"AAPL": info("AAPL", 1), "MSFT": info("MSFT", 2)}, clock=Clock(T0),
                    prices=prices, pnl=Portfolio(NY, prices),
                    ib_pnl=lambda symbols: sum(figures[x] for x in symbols) if figures else None)
    s = add(router, FakeFeed(), "s1", ["AAPL", "MSFT"])
    assert s.ctx.ib_pnl_today() is None  # no IB (a backtest), or not yet
    figures.update({"AAPL": 12.5, "MSFT": -2.0})
    assert s.ctx.ib_pnl_today() == 10.5
    assert s.ctx.ib_pnl_today(["MSFT"]) == -2.0
