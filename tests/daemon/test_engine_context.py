"""The StrategyContext the engine gives strategies: sessions, sizing, ticks, indicators, P&L."""

from __future__ import annotations

import math
from collections.abc import Mapping
from datetime import UTC, date, datetime

import pytest
from ib_insync import Contract, ContractDetails
from support.times import NY

from bot.config.strategies import Sizing
from bot.model.events import Bar, WorkingOrder
from bot.portfolio.book import Portfolio
from bot.strategy.context import EngineContext, SymbolInfo, parse_sessions, session_open
from bot.strategy.indicators import SMA, IndicatorSet

HOURS = "20240304:0930-20240304:1600;20240305:0930-20240305:1600;20240309:CLOSED"


class Orders:
    def __init__(self) -> None:
        self.pos: dict[tuple[str, str], float] = {("s1", "AAPL"): 30}

    def position(self, strategy_id: str, symbol: str) -> float:
        return self.pos.get((strategy_id, symbol), 0.0)

    def working_orders(self, strategy_id: str, symbol: str) -> Mapping[str, WorkingOrder]:
        return {}


def info() -> SymbolInfo:
    details = ContractDetails(
        contract=Contract(conId=1, symbol="AAPL"),
        minTick=0.01,
        timeZoneId="US/Eastern",
        liquidHours=HOURS,
    )
    return SymbolInfo.from_details("AAPL", details)


def ctx(
    sizing: Sizing, nlv: float | None = 100_000.0, pnl: Portfolio | None = None
) -> EngineContext:
    return EngineContext(
        "s1",
        ("AAPL",),
        orders=Orders(),
        infos={"AAPL": info()},
        sizing=sizing,
        clock=lambda: datetime(2024, 3, 4, 15, tzinfo=UTC),
        net_liquidation=lambda: nlv,
        pnl=pnl,
    )


def test_sessions_parse_in_exchange_time() -> None:
    sessions = parse_sessions(HOURS, NY)
    assert sessions[0] == (
        datetime(2024, 3, 4, 14, 30, tzinfo=UTC),
        datetime(2024, 3, 4, 21, 0, tzinfo=UTC),
    )
    assert len(sessions) == 2
    # The pre-2020 form without the end date.
    assert parse_sessions("20240304:0930-1600", NY) == sessions[:1]
    assert parse_sessions("garbage;20240304:9x30-1600", NY) == ()


def test_session_open_by_exchange_date() -> None:
    i = info()
    # 01:00 UTC on the 5th is still the 4th in New York.
    assert session_open(i, datetime(2024, 3, 5, 1, tzinfo=UTC)) == datetime(
        2024, 3, 4, 14, 30, tzinfo=UTC
    )
    assert session_open(i, date(2024, 3, 9)) is None
    fx = parse_sessions("20240303:1700-20240304:1700", NY)
    fx_info = SymbolInfo("EUR.USD", Contract(), 0.00005, NY, fx)
    assert session_open(fx_info, date(2024, 3, 4)) == datetime(2024, 3, 3, 22, tzinfo=UTC)


def test_session_open_outside_the_sessions_ib_sent_follows_their_local_hours() -> None:
    """Warm-up days before today (and days past IB's week): the same local open, DST and all."""
    i = info()  # sessions on Mon 03-04 and Tue 03-05, EST (UTC-5)
    assert session_open(i, date(2024, 3, 1)) == datetime(2024, 3, 1, 14, 30, tzinfo=UTC)
    assert session_open(i, date(2024, 3, 11)) == datetime(2024, 3, 11, 13, 30, tzinfo=UTC)  # EDT
    assert session_open(i, date(2024, 3, 2)) is None  # Saturday
    fx = parse_sessions("20240303:1700-20240304:1700", NY)
    fx_info = SymbolInfo("EUR.USD", Contract(), 0.00005, NY, fx)
    # Friday 03-01's FX day opened Thursday 17:00 New York.
    assert session_open(fx_info, date(2024, 3, 1)) == datetime(2024, 2, 29, 22, tzinfo=UTC)


def test_quantity_for_each_sizing_mode() -> None:
    assert ctx(Sizing(fixed=7)).quantity_for("AAPL", 123.0) == 7
    assert ctx(Sizing(capital=10_000)).quantity_for("AAPL", 123.0) == 81
    assert ctx(Sizing(capital=10_000)).quantity_for("AAPL", math.nan) == 0
    assert ctx(Sizing(percent_nlv=5)).quantity_for("AAPL", 123.0) == 40
    assert ctx(Sizing(percent_nlv=5), nlv=None).quantity_for("AAPL", 123.0) == 0


def test_round_to_tick_position_and_clock() -> None:
    c = ctx(Sizing(fixed=1))
    assert c.round_to_tick("AAPL", 150.0449) == 150.04
    assert c.position("AAPL") == 30 and c.position("MSFT") == 0
    assert c.now() == datetime(2024, 3, 4, 15, tzinfo=UTC)
    assert c.strategy_id == "s1" and c.symbols == ("AAPL",)


def test_indicator_lookup_by_declared_name() -> None:
    c = ctx(Sizing(fixed=1))
    iset = IndicatorSet()
    iset.add(SMA(2))
    c.bind_indicators({"fast": SMA(2)}, {"AAPL": iset})
    t = datetime(2024, 3, 4, 15, tzinfo=UTC)
    for close in (10.0, 12.0, 14.0):
        iset.on_bar(Bar("AAPL", t, close, close, close, close, 1, 60))
    assert c.indicator("AAPL", "fast") == 13.0
    assert c.indicator("AAPL", "fast", ago=1) == 11.0
    with pytest.raises(KeyError, match="no indicator 'slow'"):
        c.indicator("AAPL", "slow")
    with pytest.raises(KeyError, match="'MSFT' is not one of its symbols"):
        c.indicator("MSFT", "fast")


def test_pnl_today_restarts_at_the_exchange_midnight() -> None:
    marks: dict[str, float] = {}
    book = Portfolio(NY, marks)
    day1 = datetime(2024, 3, 4, 15, tzinfo=UTC)
    book.roll(day1)
    book.on_fill("s1", "AAPL", 10, 100, day1)
    book.on_fill("s1", "AAPL", 10, 110, day1)
    book.add_commission("s1", 2.0, "AAPL")
    marks["AAPL"] = 120
    assert book.total("s1") == pytest.approx(20 * (120 - 105) - 2)
    book.on_fill("s1", "AAPL", -30, 120, day1)  # closes 20 at +15, opens 10 short at 120
    book.add_commission("s1", 1.0, "AAPL")
    assert book.books[("s1", "AAPL")].position == -10
    assert book.total("s1") == pytest.approx(300 - 3)
    c = ctx(Sizing(fixed=1), pnl=book)
    assert c.pnl_today() == pytest.approx(297)
    book.roll(datetime(2024, 3, 5, 4, 59, tzinfo=UTC))  # still the 4th in New York
    assert c.pnl_today() == pytest.approx(297)
    assert book.roll(datetime(2024, 3, 5, 5, 0, tzinfo=UTC))  # New York midnight
    marks["AAPL"] = 119
    assert c.pnl_today() == pytest.approx(10)
