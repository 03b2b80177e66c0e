"""The FIFO round-trip ledger (bot/backtest/ledger.py) and the portfolio (bot/portfolio/book.py)
agree: the same round trips with the same P&L, and over a whole backtest run the same realized
P&L after commissions, per symbol and overall."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from report_run import ReportRun

from bot.backtest.ledger import pair_trades
from bot.journal.queries import Fill, open_reader
from bot.portfolio.book import Portfolio


def _portfolio(fills: list[Fill]) -> tuple[Portfolio, list[tuple[str, str, float]]]:
    """The portfolio booking ``fills`` as the order tracker does (the commission report comes
    after the execution), and its round trips."""
    book = Portfolio(UTC)
    trips: list[tuple[str, str, float]] = []
    book.round_trip_event += lambda sid, sym, pnl, _: trips.append((sid, sym, pnl))
    for f in fills:
        book.on_fill(f.strategy_id, f.symbol, f.signed, f.price, f.time)
        book.add_commission(f.strategy_id, f.commission, f.symbol)
    return book, trips


def test_the_round_trips_are_the_portfolios() -> None:
    # No commissions: the portfolio charges a closing fill's to the next trip (its report
    # comes after the fill ends the trip), the ledger to the trip it closes.
    def at(minute: int, side: str, qty: float, price: float, sym: str = "AAA") -> Fill:
        return Fill(datetime(2026, 10, 1, 15, minute, tzinfo=UTC), "s", sym, side, qty, price,
                    0.0, f"r{minute}")  # fmt: skip

    fills = [
        at(0, "BUY", 100, 10.0), at(1, "SELL", 40, 12.0), at(2, "SELL", 60, 9.0),  # scale out
        at(3, "SELL", 50, 20.0), at(4, "SELL", 50, 21.0), at(5, "BUY", 150, 19.0),  # flip
        at(6, "SELL", 50, 18.0, "BBB"), at(7, "BUY", 50, 17.0, "BBB"),
        at(8, "SELL", 50, 20.0),  # closes the flip's 50 long
    ]  # fmt: skip
    ledger = pair_trades(fills)
    _, trips = _portfolio(fills)
    assert len(trips) == len(ledger.trades) == 4
    for (sid, sym, pnl), trade in zip(trips, ledger.trades, strict=True):
        assert (sid, sym) == (trade.strategy_id, trade.symbol)
        assert pnl == pytest.approx(trade.net_pnl)


def test_a_whole_run_realizes_the_same_in_both(report_run: ReportRun) -> None:
    with open_reader(report_run.out / "journal.sqlite") as journal:
        fills = journal.fills()
    ledger = pair_trades(fills)
    book, _ = _portfolio(fills)
    assert ledger.trades
    symbols = {f.symbol for f in fills}
    for sym in symbols:
        # The commissions of shares still open are paid, so realized, in both.
        fifo = sum(t.net_pnl for t in ledger.trades if t.symbol == sym) - sum(
            lot.commission for (_, s), lots in ledger.open_lots.items() if s == sym for lot in lots
        )
        fees = sum(f.commission for f in fills if f.symbol == sym)
        realized = sum(h.realized for (_, s), h in book.books.items() if s == sym)
        assert fifo == pytest.approx(realized - fees, abs=1e-6), sym
    fifo_total = sum(t.net_pnl for t in ledger.trades) - sum(
        lot.commission for lots in ledger.open_lots.values() for lot in lots
    )
    fees_total = sum(book.commission(sid) for sid in book.strategies())
    assert fifo_total == pytest.approx(book.realized() - fees_total, abs=1e-6)
