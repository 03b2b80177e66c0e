"""Round trips from fills (FIFO, partial closes, reversals) and the daily equity curve, by hand."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from bot.backtest.ledger import Fill, pair_trades
from bot.backtest.report import TOTAL, build_curve, compute_kpis


def t(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 10, day, hour, minute, tzinfo=UTC)


def fill(when: datetime, side: str, qty: float, price: float, fee: float = 0.0, ref: str = "",
         sid: str = "s", sym: str = "AAA") -> Fill:  # fmt: skip
    return Fill(when, sid, sym, side, qty, price, fee, ref)


def test_partial_closes_are_one_round_trip() -> None:
    book = pair_trades([
        fill(t(1, 14), "BUY", 100, 10.0, 1.0, "a"),
        fill(t(1, 15), "SELL", 40, 12.0, 1.0, "b"),
        fill(t(1, 16), "SELL", 60, 9.0, 1.0, "c"),
    ])  # fmt: skip
    (trade,) = book.trades  # flat only after the second sell: one round trip
    assert (trade.direction, trade.quantity, trade.entry_price) == ("LONG", 100, 10.0)
    assert trade.exit_price == pytest.approx((40 * 12.0 + 60 * 9.0) / 100)
    assert (trade.entry_time, trade.exit_time) == (t(1, 14), t(1, 16))
    assert trade.gross_pnl == pytest.approx(80.0 - 60.0)  # 40 x (12 - 10) + 60 x (9 - 10)
    assert trade.commission == pytest.approx(1.0 + 1.0 + 1.0)  # the buy's and both sells'
    assert trade.net_pnl == pytest.approx(17.0)
    assert book.open_lots == {}


def test_one_close_of_two_lots_is_one_round_trip_at_their_average() -> None:
    book = pair_trades([
        fill(t(1, 14), "BUY", 50, 10.0, 1.0, "a"),
        fill(t(1, 15), "BUY", 50, 12.0, 1.0, "b"),
        fill(t(1, 16), "SELL", 100, 13.0, 2.0, "c"),
    ])  # fmt: skip
    (trade,) = book.trades
    assert trade.quantity == 100 and trade.entry_price == pytest.approx(11.0)
    assert trade.entry_time == t(1, 14) and trade.exit_time == t(1, 16)
    assert trade.gross_pnl == pytest.approx(50 * 3 + 50 * 1)
    assert trade.commission == pytest.approx(4.0)


def test_fifo_leaves_the_later_lot_open() -> None:
    book = pair_trades([
        fill(t(1, 14), "BUY", 10, 1.0, ref="a"),
        fill(t(1, 15), "BUY", 10, 2.0, ref="b"),
        fill(t(1, 16), "SELL", 15, 3.0, ref="c"),
    ])  # fmt: skip
    (trade,) = book.trades
    assert trade.quantity == 15
    assert trade.entry_price == pytest.approx((10 * 1 + 5 * 2) / 15)
    assert trade.gross_pnl == pytest.approx(10 * 2 + 5 * 1)
    (lot,) = book.open_lots[("s", "AAA")]
    assert (lot.quantity, lot.price) == (5, 2.0)  # the first lot went first
    assert book.position("s", "AAA") == 5


def test_reversal_closes_then_opens_the_rest() -> None:
    book = pair_trades([
        fill(t(1, 14), "BUY", 10, 100.0, 1.0, "a"),
        fill(t(1, 15), "SELL", 30, 105.0, 3.0, "b"),  # closes 10 long, opens 20 short
        fill(t(1, 16), "BUY", 20, 100.0, 2.0, "c"),
    ])  # fmt: skip
    long, short = book.trades
    assert (long.direction, long.quantity) == ("LONG", 10)
    assert long.gross_pnl == pytest.approx(50.0)
    assert long.commission == pytest.approx(1.0 + 1.0)  # the buy's 1 + 10/30 of the sell's 3
    assert (short.direction, short.quantity, short.entry_price) == ("SHORT", 20, 105.0)
    assert short.gross_pnl == pytest.approx(100.0)  # 20 x (105 - 100)
    assert short.commission == pytest.approx(2.0 + 2.0)  # 20/30 of 3 + the buy's 2
    assert book.open_lots == {}


def test_partial_executions_of_one_order_are_one_round_trip() -> None:
    book = pair_trades([
        fill(t(1, 14), "BUY", 100, 10.0, ref="a"),
        fill(t(1, 15), "SELL", 30, 11.0, ref="b"),
        fill(t(1, 15, 1), "SELL", 70, 11.5, ref="b"),
    ])  # fmt: skip
    (trade,) = book.trades
    assert trade.quantity == 100 and trade.exit_price == pytest.approx(11.35)
    assert trade.gross_pnl == pytest.approx(30 * 1 + 70 * 1.5)
    assert trade.exit_time == t(1, 15, 1)


def test_strategies_and_symbols_keep_their_own_books() -> None:
    book = pair_trades([
        fill(t(1, 14), "BUY", 10, 10.0, sid="s1"),
        fill(t(1, 15), "SELL", 10, 11.0, sid="s2"),
        fill(t(1, 16), "SELL", 10, 11.0, sym="BBB"),
    ])  # fmt: skip
    assert book.trades == []
    assert book.position("s1", "AAA") == 10 and book.position("s2", "AAA") == -10
    assert book.position("s", "BBB") == -10


def test_daily_equity_curve_by_hand() -> None:
    d1, d2 = date(2026, 10, 1), date(2026, 10, 2)
    fills = [
        fill(t(1, 14), "BUY", 10, 100.0, 1.0, "a"),
        fill(t(1, 21), "BUY", 5, 106.0, 1.0, "b"),  # after the close: counts on day 2
        fill(t(2, 15), "SELL", 15, 110.0, 1.0, "c"),
    ]
    closes = {"AAA": {d1: 105.0, d2: 108.0}}
    cutoffs = {"AAA": {d1: t(1, 20), d2: t(2, 20)}}
    curve = build_curve(fills, [d1, d2], closes, cutoffs, 1000.0, ["s", "idle"], t(1, 13, 30))
    # day 1: cash flow -1000 - 1, 10 shares at 105 -> 1000 - 1001 + 1050 = 1049
    # day 2: cash flow -1001 - 530 - 1 + 1650 - 1 = 117, flat -> 1117
    assert curve.equity["s"] == pytest.approx([1000.0, 1049.0, 1117.0])
    assert curve.equity["idle"] == [1000.0, 1000.0, 1000.0]
    assert curve.equity[TOTAL] == pytest.approx([1000.0, 1049.0, 1117.0])
    assert curve.labels == [t(1, 13, 30).isoformat(), t(1, 20).isoformat(), t(2, 20).isoformat()]
    assert curve.exposed == {"s": 2, "idle": 0, TOTAL: 2}
    assert curve.commissions["s"] == pytest.approx(3.0)
    (trade,) = curve.book.trades
    assert trade.quantity == 15 and trade.entry_price == pytest.approx(102.0)
    # end equity = cash + realized - commissions + open P&L (none)
    assert 1000 + trade.gross_pnl - 3.0 == pytest.approx(curve.equity[TOTAL][-1])
    figures = compute_kpis(curve)
    assert figures["s"]["trades"] == 1 and figures["idle"]["trades"] == 0
    assert figures["s"]["total_return"] == pytest.approx(0.117)
    assert figures["idle"]["sharpe"] is None
    assert figures[TOTAL]["commissions"] == pytest.approx(3.0)


def test_open_position_is_marked_to_each_close() -> None:
    d1, d2 = date(2026, 10, 1), date(2026, 10, 2)
    fills = [fill(t(1, 14), "SELL", 10, 50.0, 1.0)]  # short 10, never covered
    closes = {"AAA": {d1: 48.0}}  # no bar on day 2: the day-1 close stays
    cutoffs = {"AAA": {d1: t(1, 20), d2: t(2, 20)}}
    curve = build_curve(fills, [d1, d2], closes, cutoffs, 1000.0, ["s"], t(1, 13, 30))
    # cash +500 - 1, position -10 x 48 -> 1000 + 499 - 480 = 1019
    assert curve.equity["s"] == pytest.approx([1000.0, 1019.0, 1019.0])
    assert curve.exposed["s"] == 2


def test_per_symbol_figures_and_turnover_by_hand() -> None:
    d1, d2 = date(2026, 10, 1), date(2026, 10, 2)
    fills = [
        fill(t(1, 14), "BUY", 10, 100.0, 1.0, "a"),
        fill(t(1, 15), "SELL", 10, 95.0, 1.0, "b"),  # AAA: -50 - 2 = -52
        fill(t(2, 14), "BUY", 4, 50.0, 0.0, "c", sym="BBB"),
        fill(t(2, 15), "SELL", 4, 60.0, 0.0, "d", sym="BBB"),  # BBB: +40
    ]
    closes = {"AAA": {d1: 95.0, d2: 95.0}, "BBB": {d1: 50.0, d2: 60.0}}
    cutoffs = {s: {d1: t(1, 20), d2: t(2, 20)} for s in closes}
    curve = build_curve(fills, [d1, d2], closes, cutoffs, 1000.0, ["s"], t(1, 13, 30))
    assert curve.equity["s"] == pytest.approx([1000.0, 948.0, 988.0])
    figures = compute_kpis(curve)["s"]
    by_symbol = figures["by_symbol"]
    assert isinstance(by_symbol, dict)
    aaa, bbb = by_symbol["AAA"], by_symbol["BBB"]
    assert aaa["net_pnl"] == pytest.approx(-52.0) and aaa["traded_value"] == 1950.0
    assert aaa["mean_trade_return"] == pytest.approx(-52.0 / 1000.0)
    assert bbb["net_pnl"] == pytest.approx(40.0) and bbb["win_rate"] == 1.0
    assert bbb["mean_trade_return"] == pytest.approx(40.0 / 200.0)
    # traded 1950 + 440 = 2390 against a mean equity of (1000 + 948 + 988) / 3 = 978.67
    assert figures["turnover"] == pytest.approx(2390 / (2936 / 3))
    assert figures["mean_trade_return"] == pytest.approx((-0.052 + 0.2) / 2)
    assert figures["max_consecutive_losses"] == 1
