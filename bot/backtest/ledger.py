"""The FIFO round-trip ledger: a backtest's fills paired into round trips, as pure data. It
makes the round-trip table (trades.csv, the trade KPIs) and the open lots the report lists;
positions and P&L are the portfolio's (bot/portfolio/book.py), and a whole run's realized P&L
after commissions is the same in both (tests/backtest/test_round_trip_ledger.py).

A round trip is the portfolio's (``trip_ends``): a position from flat until it is flat again
or flips. A buy of 100 then sells of 40 and 60 are one round trip of 100 shares at the average
exit price; buys of 50 and 50 closed by one sell of 100 are one round trip at their average
entry price. Closing shares are matched against the lots first in first out. A fill that
crosses zero (a reversal) closes what was held and opens the rest as a new lot and a new
round trip. Commissions follow the shares: each fill's commission is spread over its shares,
so a round trip carries the closing fills' commission on the shares they close plus the
opening fills' commission on those same shares. A trip still open at the end is a round trip
of the shares it has closed so far, if any.
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from bot.journal.queries import Fill
from bot.portfolio.book import trip_ends


@dataclass(frozen=True, slots=True)
class Trade:
    """One round trip (module doc)."""

    strategy_id: str
    symbol: str
    direction: str  # LONG | SHORT
    quantity: float
    entry_time: datetime
    entry_price: float  # average over the lots closed
    exit_time: datetime
    exit_price: float  # average over the closing fills
    gross_pnl: float
    commission: float  # opening and closing commission of these shares

    @property
    def net_pnl(self) -> float:
        return self.gross_pnl - self.commission


@dataclass(slots=True)
class Lot:
    """Shares still open: signed quantity, price, time, commission per share."""

    quantity: float
    price: float
    time: datetime
    fee_per_share: float

    @property
    def commission(self) -> float:
        return abs(self.quantity) * self.fee_per_share


@dataclass(slots=True)
class Book:
    """The result of pairing: closed round trips and the lots still open per (strategy,
    symbol)."""

    trades: list[Trade] = field(default_factory=list)
    open_lots: dict[tuple[str, str], list[Lot]] = field(default_factory=dict)

    def position(self, strategy_id: str, symbol: str) -> float:
        return sum(lot.quantity for lot in self.open_lots.get((strategy_id, symbol), []))


_EPS = 1e-9


def pair_trades(fills: Iterable[Fill]) -> Book:
    """FIFO round trips of ``fills`` (taken in the order given: sort them by time first)."""
    lots: dict[tuple[str, str], deque[Lot]] = {}
    trip: dict[tuple[str, str], int] = {}  # the number of each book's current round trip
    groups: dict[tuple[str, str, int], list[Trade]] = {}
    for f in fills:
        key = (f.strategy_id, f.symbol)
        book = lots.setdefault(key, deque())
        before = sum(lot.quantity for lot in book)
        pieces, left = _close(book, f)
        if pieces:
            groups.setdefault((*key, trip.get(key, 0)), []).extend(pieces)
        if left > _EPS:
            book.append(Lot(math.copysign(left, f.signed), f.price, f.time, _fee(f)))
        if before and trip_ends(before, sum(lot.quantity for lot in book)):
            trip[key] = trip.get(key, 0) + 1
    trades = [_merge(pieces) for pieces in groups.values()]
    trades.sort(key=lambda t: (t.exit_time, t.entry_time))
    return Book(trades, {k: list(v) for k, v in lots.items() if v})


def _fee(f: Fill) -> float:
    return f.commission / f.quantity if f.quantity else 0.0


def _close(book: deque[Lot], f: Fill) -> tuple[list[Trade], float]:
    """Close ``book``'s lots against ``f`` first in first out: the pieces closed, and the
    shares of ``f`` left to open a lot."""
    pieces = []
    left = f.quantity
    while left > _EPS and book and book[0].quantity * f.signed < 0:
        lot = book[0]
        m = min(left, abs(lot.quantity))
        long = lot.quantity > 0
        pieces.append(Trade(
            strategy_id=f.strategy_id,
            symbol=f.symbol,
            direction="LONG" if long else "SHORT",
            quantity=m,
            entry_time=lot.time,
            entry_price=lot.price,
            exit_time=f.time,
            exit_price=f.price,
            gross_pnl=(f.price - lot.price) * m * (1.0 if long else -1.0),
            commission=(lot.fee_per_share + _fee(f)) * m,
        ))  # fmt: skip
        lot.quantity -= m if long else -m
        left -= m
        if abs(lot.quantity) <= _EPS:
            book.popleft()
    return pieces, left


def _merge(pieces: list[Trade]) -> Trade:
    if len(pieces) == 1:
        return pieces[0]
    qty = sum(p.quantity for p in pieces)
    return Trade(
        strategy_id=pieces[0].strategy_id,
        symbol=pieces[0].symbol,
        direction=pieces[0].direction,
        quantity=qty,
        entry_time=min(p.entry_time for p in pieces),
        entry_price=sum(p.entry_price * p.quantity for p in pieces) / qty,
        exit_time=max(p.exit_time for p in pieces),
        exit_price=sum(p.exit_price * p.quantity for p in pieces) / qty,
        gross_pnl=sum(p.gross_pnl for p in pieces),
        commission=sum(p.commission for p in pieces),
    )
