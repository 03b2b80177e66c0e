"""bot.live.ib_pnl against a small fake of ib_insync's P&L calls: subscriptions (idempotent, late
symbols), the sums strategies read, and the disagreement warning (once per day and scope)."""

from __future__ import annotations

import logging
from datetime import timedelta
from types import SimpleNamespace
from typing import Any

import pytest
from ib_insync import Contract
from support.fake_ib import FakeIB
from support.times import NY, T0

from bot.live.ib_pnl import IbPnl
from bot.strategy.context import SymbolInfo


def infos(*symbols: str) -> dict[str, SymbolInfo]:
    return {s: SymbolInfo(s, Contract(conId=i + 1, symbol=s), 0.01, NY)
            for i, s in enumerate(symbols)}  # fmt: skip


def test_subscribes_the_account_and_each_symbol_once_then_late_symbols_on_read() -> None:
    ib, known = FakeIB(), infos("AAPL", "MSFT")
    pnl = IbPnl(ib, known)  # type: ignore[arg-type]
    assert pnl.daily(["AAPL"]) is None  # not connected to an account yet: nothing asked
    pnl.subscribe("DU1")
    pnl.subscribe("DU1")  # after a reconnect ib_insync starts empty; here nothing was lost
    assert ib.pnl_requests == ["pnl:DU1", "single:1", "single:2"]
    known["IBM"] = SymbolInfo("IBM", Contract(conId=9, symbol="IBM"), 0.01, NY)  # a scan's
    assert pnl.daily(["IBM"]) is None and ib.pnl_requests[-1] == "single:9"


def test_daily_sums_ibs_figures_and_counts_unreported_symbols_as_zero() -> None:
    ib = FakeIB()
    pnl = IbPnl(ib, infos("AAPL", "MSFT", "IBM"))  # type: ignore[arg-type]
    pnl.subscribe("DU1")
    assert pnl.daily(["AAPL", "MSFT"]) is None and pnl.account_daily() is None
    ib.singles[1].dailyPnL = 12.5
    ib.singles[2].dailyPnL = 1.7976931348623157e308  # IB's "unset"
    assert pnl.daily(["AAPL", "MSFT", "IBM"]) == 12.5
    ib.singles[2].dailyPnL = -2.5
    ib.accounts["DU1"].dailyPnL = 9.0
    assert (pnl.daily(["AAPL", "MSFT"]), pnl.account_daily()) == (10.0, 9.0)


def engine(own: dict[str, float], fees: dict[str, float], symbols: dict[str, tuple[str, ...]],
           ) -> Any:  # fmt: skip
    slots = {sid: SimpleNamespace(ctx=SimpleNamespace(symbols=syms))
             for sid, syms in symbols.items()}  # fmt: skip
    return SimpleNamespace(
        slots=slots,
        executor=SimpleNamespace(commission=lambda sid: fees[sid]),
        pnl=SimpleNamespace(tz=NY, today=lambda sid: own[sid]),
        pnl_today=lambda: sum(own.values()),
    )


def test_warns_once_a_day_where_ib_and_the_bot_differ_by_more_than_commissions(
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.live.ib_pnl")
    ib = FakeIB()
    pnl = IbPnl(ib, infos("AAPL", "MSFT", "IBM"))  # type: ignore[arg-type]
    pnl.subscribe("DU1")
    ib.singles[1].dailyPnL, ib.singles[2].dailyPnL, ib.singles[3].dailyPnL = 100.0, 50.0, 7.0
    ib.accounts["DU1"].dailyPnL = 157.0
    # a: AAPL alone, 2.00 off with 2.00 commissions: fine. b: MSFT, 10.00 off: a warning.
    # c and d share IBM: IB's figure is theirs together, so only the account compares it.
    eng = engine({"a": 98.0, "b": 40.0, "c": 3.0, "d": 4.0},
                 {"a": 2.0, "b": 1.0, "c": 0.0, "d": 0.0},
                 {"a": ("AAPL",), "b": ("MSFT",), "c": ("IBM",), "d": ("IBM",)})  # fmt: skip
    pnl.check(eng, T0)
    pnl.check(eng, T0 + timedelta(minutes=5))  # once a day
    messages = [r.getMessage() for r in caplog.records]
    assert messages == [
        "P&L b: IB's daily P&L +50.00, the bot's own +40.00: they differ by 10.00, more than "
        "the commissions paid (1.00); positions the bot did not trade, or fills it missed?",
        "P&L account: IB's daily P&L +157.00, the bot's own +145.00: they differ by 12.00, more "
        "than the commissions paid (3.00); positions the bot did not trade, or fills it missed?",
    ]
    pnl.check(eng, T0 + timedelta(days=1))  # a new exchange day: said again
    assert len(caplog.records) == 4


def test_no_warning_before_ib_reports(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING, logger="bot.live.ib_pnl")
    pnl = IbPnl(FakeIB(), infos("AAPL"))  # type: ignore[arg-type]
    pnl.subscribe("DU1")  # subscribed, nothing arrived yet (NaN)
    pnl.check(engine({"a": 500.0}, {"a": 0.0}, {"a": ("AAPL",)}), T0)
    assert caplog.records == []
