"""The one portfolio: per strategy and for the account, positions, average cost, realized and
unrealized P&L, today's P&L, commissions and the equity high of the day.

Every reader uses it: the executor's positions (the order tracker books each fill here, once
per execId), the strategies' ``pnl_today``, the status line and summary, and the risk limits.
At start it is rebuilt from the journal's fills (with their commissions) and position
adjustments of the current broker identity, so a restart mid-day reports the same figures as an
uninterrupted run.

Today's P&L is equity now less equity at the start of the exchange day (midnight in ``tz``).
That baseline is journalled (event ``day_start``) when the day rolls or the portfolio is first
built on a day, so a restart the same day reads it back instead of re-marking positions held
overnight (their marks at midnight are not in the journal; without a journalled baseline they
count at their cost). The day's equity high is sampled at fills and by ``sample_high``
(the risk stage, each closed bar) and journalled (``equity_high``) at most once a minute.
"""

from __future__ import annotations

import json
import math
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING

from eventkit import Event

if TYPE_CHECKING:
    from bot.journal.store import Journal

ACCOUNT = "*"  # the account scope's key among the per-strategy figures
_EPS = 1e-9
_HIGH_EVERY = timedelta(minutes=1)



def trip_ends(before: float, after: float) -> bool:
    """Whether a fill that took a position from ``before`` to ``after`` ends its round trip:
    it went flat or flipped. The one definition of a round trip (the risk stage's cooldowns,
    the backtest's trade table: bot/backtest/ledger.py)."""
    return abs(after) < _EPS or (after > 0) != (before > 0)


@dataclass(slots=True)
class Holding:
    """One strategy's holding in one symbol."""

    position: float = 0.0
    avg_cost: float = 0.0
    realized: float = 0.0
    trip: float = 0.0  # realized less commissions since the position was last flat


class Portfolio:
    events = ("round_trip_event",)

    def __init__(self, tz: tzinfo, marks: Mapping[str, float] | None = None) -> None:
        self.tz = tz
        self.marks: Mapping[str, float] = {} if marks is None else marks
        self.books: dict[tuple[str, str], Holding] = {}
        self._net: dict[str, float] = {}  # per symbol, over strategies
        self._commission: dict[str, float] = {}
        self._baseline: dict[str, float] = {}  # equity at the start of the day, per scope
        self._high: dict[str, float] = {}  # today's P&L high, per scope
        self._next_day: datetime | None = None
        self._journal: Journal | None = None
        self._high_journalled: datetime | None = None
        # (strategy id, symbol, net P&L of the trip, time): a position went flat or flipped
        self.round_trip_event = Event("round_trip_event")
        # Exposure kept up to date for the risk stage (``valued``): each position's market value
        # at its symbol's mark as of the last ``revalue`` (or fill), summed per scope.
        self._value: dict[tuple[str, str], float] = {}  # (scope, symbol) -> signed value
        self._gross: dict[str, float] = {}
        self._netv: dict[str, float] = {}
        self._valued_at: dict[str, float] = {}  # symbol -> the mark its values use
        self._holders: dict[str, set[str]] = {}  # symbol -> strategies with a book in it

    # ---- positions ----------------------------------------------------------------------

    def get(self, strategy_id: str, symbol: str) -> float:
        b = self.books.get((strategy_id, symbol))
        return 0.0 if b is None else b.position

    def symbol_position(self, symbol: str) -> float:
        """The account's position in ``symbol``: the sum over strategies."""
        return self._net.get(symbol, 0.0)

    def items(self) -> Iterator[tuple[tuple[str, str], float]]:
        """Non-zero positions as ((strategy_id, symbol), quantity) (a snapshot)."""
        return iter([(k, b.position) for k, b in self.books.items() if b.position])

    def by_symbol(self) -> dict[str, float]:
        return {s: q for s, q in self._net.items() if abs(q) > _EPS}

    def strategies(self) -> set[str]:
        return {sid for sid, _ in self.books} | set(self._commission)

    def apply(self, strategy_id: str, symbol: str, signed_qty: float) -> float:
        """A position change without an execution (an operator's reset): cost unchanged."""
        b = self._book(strategy_id, symbol)
        b.position += signed_qty
        if abs(b.position) < _EPS:
            b.position, b.avg_cost, b.trip = 0.0, 0.0, 0.0
        self._net[symbol] = self._net.get(symbol, 0.0) + signed_qty
        self._revalue(symbol, strategy_id, b.avg_cost)
        return b.position

    def _book(self, strategy_id: str, symbol: str) -> Holding:
        b = self.books.get((strategy_id, symbol))
        if b is None:
            b = self.books[(strategy_id, symbol)] = Holding()
            self._holders.setdefault(symbol, set()).add(strategy_id)
        return b

    def on_fill(
        self, strategy_id: str, symbol: str, signed_qty: float, price: float, time: datetime
    ) -> None:
        """One execution of a strategy's order (commission comes by ``add_commission``)."""
        b = self._book(strategy_id, symbol)
        pos = b.position
        self._net[symbol] = self._net.get(symbol, 0.0) + signed_qty
        if pos == 0 or (pos > 0) == (signed_qty > 0):  # opening or adding
            total = pos + signed_qty
            b.avg_cost = (b.avg_cost * pos + price * signed_qty) / total
            b.position = total
            self._revalue(symbol, strategy_id, price)
            return
        closed = min(abs(signed_qty), abs(pos))
        gain = closed * (price - b.avg_cost) * (1 if pos > 0 else -1)
        b.realized += gain
        b.trip += gain
        b.position = pos + signed_qty
        ended = trip_ends(pos, b.position)
        trip = b.trip
        if ended:
            b.trip = 0.0
            if abs(b.position) < _EPS:
                b.position, b.avg_cost = 0.0, 0.0
            else:
                b.avg_cost = price  # flipped: the remainder opened at this price
        # The values the risk stage reads are of the new position (both scopes).
        self._revalue(symbol, strategy_id, price)
        if ended:
            self.round_trip_event.emit(strategy_id, symbol, trip, time)
        self._sample(strategy_id, time)

    def add_commission(self, strategy_id: str, amount: float, symbol: str | None = None) -> None:
        self._commission[strategy_id] = self._commission.get(strategy_id, 0.0) + amount
        if symbol is not None and (b := self.books.get((strategy_id, symbol))) is not None:
            b.trip -= amount

    def commission(self, strategy_id: str) -> float:
        return self._commission.get(strategy_id, 0.0)

    # ---- P&L ----------------------------------------------------------------------------

    def unrealized(self, strategy_id: str | None = None) -> float:
        out = 0.0
        marks = self.marks
        for (sid, symbol), b in self.books.items():
            if b.position and (strategy_id is None or sid == strategy_id):
                mark = marks.get(symbol)
                if mark is not None and not math.isnan(mark):
                    out += b.position * (mark - b.avg_cost)
        return out

    def realized(self, strategy_id: str | None = None) -> float:
        return sum(
            b.realized for (sid, _), b in self.books.items()
            if strategy_id is None or sid == strategy_id
        )  # fmt: skip

    def total(self, strategy_id: str | None = None) -> float:
        """Realized + unrealized - commissions over the journal (None: the account)."""
        fees = (
            sum(self._commission.values())
            if strategy_id is None
            else self._commission.get(strategy_id, 0.0)
        )
        return self.realized(strategy_id) + self.unrealized(strategy_id) - fees

    def today(self, strategy_id: str | None = None) -> float:
        """Equity now less equity at the start of the exchange day (None: the account)."""
        return self.total(strategy_id) - self._baseline.get(strategy_id or ACCOUNT, 0.0)

    def day_high(self, strategy_id: str | None = None) -> float:
        """The highest today's P&L seen today (0 at the start of the day)."""
        return max(self._high.get(strategy_id or ACCOUNT, 0.0), 0.0)

    def drawdown(self, strategy_id: str | None = None) -> float:
        """How far today's P&L is below the day's high (>= 0)."""
        return max(self.day_high(strategy_id) - self.today(strategy_id), 0.0)

    def exposure(self, strategy_id: str | None = None) -> tuple[float, float]:
        """(gross, net) market value of the positions at the marks (None: the account)."""
        gross = net = 0.0
        marks = self.marks
        if strategy_id is None:
            held: Iterator[tuple[str, float]] = iter(self._net.items())
        else:
            held = ((sym, b.position) for (sid, sym), b in self.books.items() if sid == strategy_id)
        for symbol, qty in held:
            if qty:
                mark = marks.get(symbol, math.nan)
                value = qty * (mark if mark == mark else 0.0)
                gross += abs(value)
                net += value
        return gross, net

    def valued_after(self, strategy_id: str | None, symbol: str, delta: float,
                     price: float) -> tuple[float, float]:  # fmt: skip
        """(gross, net) exposure as ``exposure`` after ``delta`` more shares of ``symbol``:
        that symbol at ``price`` (the order's), the others at their mark as of their last
        ``revalue`` or fill. O(1), for the risk stage's per-order checks."""
        scope = strategy_id or ACCOUNT
        held = self._net.get(symbol, 0.0) if strategy_id is None else self.get(strategy_id, symbol)
        old = held * self._valued_at.get(symbol, 0.0)
        new = (held + delta) * price
        return (self._gross.get(scope, 0.0) + abs(new) - abs(old),
                self._netv.get(scope, 0.0) + new - old)  # fmt: skip

    def revalue(self, symbol: str) -> None:
        """Value ``symbol``'s positions at its current mark (each closed bar)."""
        mark = self.marks.get(symbol)
        if mark is not None and mark > 0:
            self._valued_at[symbol] = mark
            for sid in self._holders.get(symbol, ()):
                self._set_value(sid, symbol, self.get(sid, symbol) * mark)
            self._set_value(ACCOUNT, symbol, self._net.get(symbol, 0.0) * mark)

    def _revalue(self, symbol: str, strategy_id: str, price: float) -> None:
        """After a position change: its values at the symbol's valued mark (else ``price``)."""
        mark = self._valued_at.get(symbol) or price
        self._valued_at[symbol] = mark
        self._set_value(strategy_id, symbol, self.get(strategy_id, symbol) * mark)
        self._set_value(ACCOUNT, symbol, self._net.get(symbol, 0.0) * mark)

    def _set_value(self, scope: str, symbol: str, value: float) -> None:
        old = self._value.get((scope, symbol), 0.0)
        self._value[(scope, symbol)] = value
        self._gross[scope] = self._gross.get(scope, 0.0) + abs(value) - abs(old)
        self._netv[scope] = self._netv.get(scope, 0.0) + value - old

    def sample_high(self, now: datetime) -> None:
        """Update the day's equity highs (every scope) at ``now``'s marks."""
        for sid in self.strategies():
            self._sample(sid, now, journal=False)
        self._sample(None, now)

    def _sample(self, strategy_id: str | None, now: datetime, *, journal: bool = True) -> None:
        key = strategy_id or ACCOUNT
        value = self.today(strategy_id)
        if value > self._high.get(key, 0.0):
            self._high[key] = value
        if strategy_id is not None:
            self._sample(None, now, journal=journal)
            return
        last = self._high_journalled
        if journal and self._journal is not None and (last is None or now - last >= _HIGH_EVERY):
            self._high_journalled = now
            self._journal.record_event("equity_high", "day's equity highs", now,
                                       data=json.dumps(self._high))  # fmt: skip

    # ---- days ---------------------------------------------------------------------------

    def roll(self, now: datetime) -> bool:
        """Start a new day's count when ``now`` is past the exchange midnight (cheap check);
        True when a new day started."""
        nxt = self._next_day
        if nxt is not None and now < nxt:
            return False
        start = self.day_start(now)
        self._next_day = start + timedelta(days=1)
        if nxt is None:
            return False  # the first call only sets the boundary (restore sets the baseline)
        self._baseline = {sid: self.total(sid) for sid in self.strategies()}
        self._baseline[ACCOUNT] = self.total()
        self._high = {}
        self._journal_baseline(start)
        return True

    def day_start(self, now: datetime) -> datetime:
        local = now.astimezone(self.tz)
        midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
        return midnight.astimezone(UTC)

    def _journal_baseline(self, start: datetime) -> None:
        if self._journal is not None:
            self._journal.record_event("day_start", f"P&L baselines for {start:%Y-%m-%d}",
                                       start, data=json.dumps(self._baseline))  # fmt: skip

    # ---- restore ------------------------------------------------------------------------

    @classmethod
    def restore(
        cls, journal: Journal, tz: tzinfo, now: datetime, marks: Mapping[str, float] | None = None
    ) -> Portfolio:
        """Rebuilt from the journal's fills and adjustments of the current broker identity,
        with today's baseline and equity highs as journalled (module doc); journals from now
        on."""
        p = cls(tz, marks)
        start = p.day_start(now)
        p._next_day = start + timedelta(days=1)
        baseline_done = False
        for row in journal.reads.ledger():
            time, sid, symbol, qty, price, fee = row
            if not baseline_done and time >= start:
                p._set_baseline()
                baseline_done = True
            if price is None:
                p.apply(sid, symbol, qty)
            else:
                p.on_fill(sid, symbol, qty, price, time)
                p.add_commission(sid, fee, symbol)
        if not baseline_done:
            p._set_baseline()
        saved = journal.reads.day_figures("day_start", start)
        if saved is not None:
            p._baseline = saved
        else:
            p._journal = journal
            p._journal_baseline(start)
        p._high = journal.reads.day_figures("equity_high", start) or {}
        p._journal = journal
        return p

    def _set_baseline(self) -> None:
        """Equity at the start of the day with overnight positions at their cost."""
        self._baseline = {sid: self.realized(sid) - self.commission(sid)
                          for sid in self.strategies()}  # fmt: skip
        self._baseline[ACCOUNT] = self.realized() - sum(self._commission.values())
