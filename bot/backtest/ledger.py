"""Journal fills paired into round trips (FIFO), as pure data.

A round trip is one closing order against the lots it closes, first in first out: a buy of 100
then a sell of 40 and a sell of 60 are two round trips (40 and 60 shares at the one entry
price); buys of 50 and 50 closed by one sell of 100 are one round trip at their average entry
price. A fill that crosses zero (a reversal) closes what was held and opens the rest as a new
lot. Partial executions of one order are one order: round trips are grouped by the closing
order's ref (fills without a ref are each their own order). Commissions follow the shares:
each fill's commission is spread over its shares, so a round trip carries the closing fill's
commission on the shares it closes plus the opening fills' commission on those same shares.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime

from bot.journal.queries import Fill


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
    groups: dict[tuple[str, str, str, str], list[Trade]] = {}
    for n, f in enumerate(fills):
        key = (f.strategy_id, f.symbol)
        book = lots.setdefault(key, deque())
        fee = f.commission / f.quantity if f.quantity else 0.0
        left = f.quantity
        sign = 1.0 if f.side == "BUY" else -1.0
        while left > _EPS and book and book[0].quantity * sign < 0:
            lot = book[0]
            m = min(left, abs(lot.quantity))
            long = lot.quantity > 0
            piece = Trade(
                strategy_id=f.strategy_id,
                symbol=f.symbol,
                direction="LONG" if long else "SHORT",
                quantity=m,
                entry_time=lot.time,
                entry_price=lot.price,
                exit_time=f.time,
                exit_price=f.price,
                gross_pnl=(f.price - lot.price) * m * (1.0 if long else -1.0),
                commission=(lot.fee_per_share + fee) * m,
            )
            ref = f.order_ref or f"#fill{n}"
            groups.setdefault((*key, piece.direction, ref), []).append(piece)
            lot.quantity -= m if long else -m
            left -= m
            if abs(lot.quantity) <= _EPS:
                book.popleft()
        if left > _EPS:
            book.append(Lot(sign * left, f.price, f.time, fee))
    trades = [_merge(pieces) for pieces in groups.values()]
    trades.sort(key=lambda t: (t.exit_time, t.entry_time))
    return Book(trades, {k: list(v) for k, v in lots.items() if v})


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
