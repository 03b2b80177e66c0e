"""The daily scanned universe with a fake clock and a fake IB: when scans run (market time, once
per exchange day, weekdays), what they log, how failures end, and how the engine takes the
scanned symbols (new ones declared for warm-up, earlier ones kept while held, else dropped)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

import pytest
from ib_insync import Contract
from support.fake_ib import FakeIB
from support.times import NY
from support.waiting import wait_until

from bot.config.bars import BarSpec
from bot.config.strategies import ScannerConfig, Sizing
from bot.market_data.ib_feed import Feed
from bot.model.events import Bar, OrderIntent, Rejection, WorkingOrder
from bot.portfolio.book import Portfolio
from bot.strategy.api import Strategy
from bot.strategy.context import SymbolInfo
from bot.strategy.indicators import SMA, IndicatorSpec
from bot.trading.daily_scan import (
    DailyScans,
    ScanRow,
    ScanSchedule,
    day_symbols,
    describe,
    request_scan,
    subscription,
)
from bot.trading.router import Clock, Router
from bot.venues.ib import IbVenue

TUE = datetime(2026, 10, 20, 13, 30, tzinfo=UTC)  # 09:30 New York (EDT)
S5 = timedelta(seconds=5)


def cfg(**kw: Any) -> ScannerConfig:
    return ScannerConfig.model_validate({"scan_code": "HIGH_OPEN_GAP", "top": 2, **kw})


# ---- when ----------------------------------------------------------------------------------


def test_schedule_is_due_once_per_exchange_day_from_at_on_weekdays() -> None:
    s = ScanSchedule(time(9, 35), NY)
    assert s.due(TUE + timedelta(minutes=4, seconds=55)) is None  # 09:34:55 New York
    assert s.due(TUE + timedelta(minutes=5)) == date(2026, 10, 20)  # 13:35 UTC = 09:35 EDT
    s.done = date(2026, 10, 20)
    assert s.due(TUE + timedelta(hours=3)) is None  # once a day
    assert s.due(TUE + timedelta(hours=14)) is None  # 23:30 New York, same day
    assert s.due(TUE + timedelta(days=1, minutes=4)) is None
    assert s.due(TUE + timedelta(days=1, minutes=5)) == date(2026, 10, 21)
    sat = datetime(2026, 10, 24, 14, 0, tzinfo=UTC)
    assert s.due(sat) is None and s.due(sat + timedelta(days=1)) is None
    # Started later in the day: the day's scan is due at once.
    assert ScanSchedule(time(9, 35), NY).due(TUE + timedelta(hours=2)) == date(2026, 10, 20)


async def test_scans_run_at_the_first_market_time_after_at_once_a_day(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ib = FakeIB(TUE, answers=["NVDA", "AMD", "TSLA"])
    got: list[tuple[str, date, list[str]]] = []
    events: list[tuple[str, str]] = []

    async def on_result(sid: str, day: date, rows: list[ScanRow]) -> None:
        got.append((sid, day, [r.symbol for r in rows]))

    def journal(kind: str, msg: str, now: datetime, **kw: Any) -> None:
        events.append((kind, msg))

    scans = DailyScans(IbVenue(ib), {"orb": cfg()}, on_result, journal_event=journal)  # type: ignore[arg-type]
    caplog.set_level(logging.INFO, "bot.trading.daily_scan")
    t = TUE
    while t < TUE + timedelta(days=1, hours=1):  # the feed's market clock, every 5 seconds
        scans.observe(t)
        await asyncio.sleep(0)
        t += S5
    for task in scans.running():  # the last day's scan, to its end
        await task
    assert got == [
        ("orb", date(2026, 10, 20), ["NVDA", "AMD"]),
        ("orb", date(2026, 10, 21), ["NVDA", "AMD"]),
    ]
    (sub, _) = ib.scan_requests
    assert (sub.instrument, sub.locationCode, sub.scanCode, sub.numberOfRows) == (
        "STK", "STK.US.MAJOR", "HIGH_OPEN_GAP", 2,
    )  # fmt: skip
    line = "orb: scanner HIGH_OPEN_GAP 2026-10-20: top 2 NVDA, AMD"
    assert line in caplog.messages
    assert events[0] == ("scan", "scanner HIGH_OPEN_GAP 2026-10-20: top 2 NVDA, AMD")


async def test_a_scan_does_not_start_while_another_runs() -> None:
    ib = FakeIB(TUE, answers=["NVDA"])
    ib.scan_hangs = True
    scans = DailyScans(IbVenue(ib), {"orb": cfg()}, _ignore, timeout=0.05)  # type: ignore[arg-type]
    scans.observe(TUE + timedelta(minutes=5))
    scans.observe(TUE + timedelta(minutes=6))
    scans.observe(TUE + timedelta(days=1, minutes=6))  # even the next day's waits for it
    await wait_until(lambda: ib.scan_requests, what="the first scan's request")
    assert len(ib.scan_requests) == 1
    await scans.stop()


async def test_the_poll_reads_the_brokers_time_and_holds_a_subscription_while_idle() -> None:
    ib = FakeIB(TUE, answers=["NVDA"])
    got: list[date] = []

    async def on_result(sid: str, day: date, rows: list[ScanRow]) -> None:
        got.append(day)

    scans = DailyScans(IbVenue(ib), {"orb": cfg()}, on_result, poll_s=0.01, heartbeat=ib)  # type: ignore[arg-type]
    idle = True
    task = asyncio.create_task(scans.run(idle=lambda: idle))
    await wait_until(lambda: ib.scan_subscriptions, what="the heartbeat's subscription")
    assert got == [] and len(ib.scan_subscriptions) == 1  # 09:30: not yet; the heartbeat runs
    ib.now = TUE + timedelta(minutes=5)
    await wait_until(lambda: got, what="the 09:35 scan")
    assert got == [date(2026, 10, 20)]
    idle = False  # the scan's symbols are subscribed: their bars give the time now
    await wait_until(lambda: ib.cancelled_scans, what="the heartbeat cancelled")
    assert ib.cancelled_scans == ib.scan_subscriptions
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    await scans.stop()


# ---- failures ------------------------------------------------------------------------------


async def test_a_scanner_error_is_logged_and_counts_as_an_empty_scan(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ib = FakeIB(TUE, answers=["NVDA"])
    ib.scan_error = (162, "Historical Market Data Service error message:Scanner type with code X")
    got: list[list[ScanRow]] = []

    async def on_result(sid: str, day: date, rows: list[ScanRow]) -> None:
        got.append(rows)

    scans = DailyScans(IbVenue(ib), {"orb": cfg()}, on_result)  # type: ignore[arg-type]
    scans.observe(TUE + timedelta(minutes=5))
    for task in scans.running():
        await task
    assert got == [[]]
    assert (
        "orb: scanner HIGH_OPEN_GAP 2026-10-20 failed: error 162: Historical Market Data Service "
        "error message:Scanner type with code X; fixed symbols only"
    ) in caplog.messages
    scans.observe(TUE + timedelta(minutes=6))
    assert scans.running() == []
    assert len(ib.scan_requests) == 1  # not again that day


async def test_a_scan_without_an_answer_times_out() -> None:
    ib = FakeIB(TUE, answers=["NVDA"])
    ib.scan_hangs = True
    with pytest.raises(Exception, match=r"no answer in 0\.01 s"):
        await request_scan(ib, cfg(), 0.01)  # type: ignore[arg-type]


def test_subscription_filters_and_the_log_line() -> None:
    sub = subscription(cfg(above_price=5, below_price=500, above_volume=10000, top=7))
    assert (sub.abovePrice, sub.belowPrice, sub.aboveVolume, sub.numberOfRows) == (5, 500, 10000, 7)
    rows = [ScanRow(0, "NVDA", "STK", "USD", 1, "3.1"), ScanRow(1, "AMD", "STK", "USD", 2)]
    assert describe(cfg(), date(2026, 10, 20), rows) == (
        "scanner HIGH_OPEN_GAP 2026-10-20: top 2 NVDA 3.1, AMD"
    )
    assert describe(cfg(), date(2026, 10, 20), []) == (
        "scanner HIGH_OPEN_GAP 2026-10-20: top 0 (none)"
    )


# ---- which symbols -------------------------------------------------------------------------


def test_day_symbols_keep_what_earlier_scans_still_hold() -> None:
    symbols, kept, dropped = day_symbols(
        ["AAPL"], ["NVDA", "AMD"], ["AAPL", "TSLA", "AMD", "META"], lambda s: s == "TSLA"
    )
    assert symbols == ["AAPL", "NVDA", "AMD", "TSLA"]
    assert kept == ["TSLA"] and dropped == ["META"]
    assert day_symbols([], [], ["TSLA"], lambda s: False) == ([], [], ["TSLA"])


class _Executor:
    def __init__(self) -> None:
        self.prices: dict[str, float] = {}

    def position(self, strategy_id: str, symbol: str) -> float:
        return 0.0

    def working_orders(self, strategy_id: str, symbol: str) -> Mapping[str, WorkingOrder]:
        return {}

    def submit(self, strategy_id: str, intent: OrderIntent, *, ref_price: float) -> None:
        raise AssertionError("no orders here")

    def update_bar(self, symbol: str, open_: float, high: float, low: float, close: float,
                   time: datetime) -> None:  # fmt: skip
        self.prices[symbol] = close

    def commission(self, strategy_id: str) -> float:
        return 0.0


class _Risk:
    def check(self, *a: Any, **kw: Any) -> Rejection | None:
        return None

    def kill(self, *a: Any, **kw: Any) -> None:
        pass

    def on_bar(self, symbol: str, now: object) -> None:
        pass

    def observe_bar(self, bar: object) -> None:
        pass

    def on_tick(self, symbol: str, now: object) -> None:
        pass


class _Recorder(Strategy[Any]):
    def __init__(self, ctx: Any, params: Any) -> None:
        super().__init__(ctx, params)
        self.warm: list[str] = []
        self.live: list[str] = []

    def indicators(self) -> Mapping[str, IndicatorSpec]:
        return {"sma": SMA(2)}

    def on_warmup_bar(self, bar: Bar) -> None:
        self.warm.append(bar.symbol)

    def on_bar(self, bar: Bar) -> list[OrderIntent]:
        self.live.append(bar.symbol)
        return []


class _Settings:
    id = "scan"
    symbols: tuple[str, ...] = ()
    sizing = Sizing(fixed=1)
    on_error = "disable"
    ticks = False


class _FeedIB:
    def isConnected(self) -> bool:
        return False


def test_engine_takes_scanned_symbols_with_their_own_streams_and_drops_them() -> None:
    infos = {
        s: SymbolInfo(s, Contract(conId=i, symbol=s), 0.01, NY)
        for i, s in enumerate(["NVDA", "AMD", "TSLA"], start=1)
    }
    router = Router(risk=_Risk(), executor=_Executor(), infos=infos, clock=Clock(TUE),
                    prices={}, pnl=Portfolio(NY, {}))  # fmt: skip
    feed = Feed(_FeedIB(), router.on_bar)  # type: ignore[arg-type]
    slot = router.add_strategy(_Settings(), _Recorder, None)  # type: ignore[arg-type]
    router.attach(feed, "scan", BarSpec(size="5 mins", warmup="1 D"))
    assert slot.ctx.symbols == () and feed.streams == {}

    new = router.set_symbols(feed, "scan", ["NVDA", "AMD"])
    assert [k.symbol for k in new] == ["NVDA", "AMD"] and set(new) == set(feed.streams)
    assert slot.ctx.symbols == ("NVDA", "AMD") and slot.symbols == {"NVDA", "AMD"}
    strategy = slot.strategy
    assert isinstance(strategy, _Recorder)
    for i, key in enumerate(new):  # what the feed's warm-up hands on: indicators, no trading
        router.on_bar(key, Bar(key.symbol, TUE, 1, 1, 1, 1 + i, 100, 300), False)
    assert strategy.warm == ["NVDA", "AMD"] and strategy.live == []

    new = router.set_symbols(feed, "scan", ["TSLA", "AMD"])
    assert [k.symbol for k in new] == ["TSLA"]
    assert {k.symbol for k in feed.streams} == {"TSLA", "AMD"}  # NVDA's stream ended
    assert slot.ctx.symbols == ("TSLA", "AMD")
    with pytest.raises(KeyError, match="'NVDA' is not one of its symbols"):
        slot.ctx.indicator("NVDA", "sma")


async def _ignore(sid: str, day: date, rows: list[ScanRow]) -> None:
    pass
