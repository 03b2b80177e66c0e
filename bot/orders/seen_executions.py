"""The execIds already routed, kept for a bounded window; the journal answers for older ones.

IB's reqExecutions returns the current day's executions, so the replays that dedupe has to
catch (reconcile after a reconnect or a restart) are recent. The window is the current and
the previous UTC day (a cushion for an account whose trading day straddles UTC midnight):
every journalled execution of the window is in memory, loaded at start-up and added as it is
routed, and a day's entries are dropped, all at once, when the window moves past it. An
execution from before the window (or with no time) is looked up in the journal instead: the
journal's fills are the ground truth, so an old execution replayed after a restart is still
routed at most once. The hot path is one dict lookup.

Each entry remembers whose fill it was, so a commission report arriving after its order was
pruned (bot/orders/pruning.py) can still be booked to the right strategy, once.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from bot.journal.store import Journal

#: Days before the current one kept in memory.
CUSHION_DAYS = 1


@dataclass(slots=True)
class _Seen:
    day: date  # UTC
    strategy_id: str
    symbol: str
    commissioned: bool


class SeenExecutions:
    """Routed execIds of the window, with their owner and whether their commission is booked."""

    def __init__(self, journal: Journal, now: Callable[[], datetime]) -> None:
        self._journal = journal
        self._now = now
        self._first = _window_start(now())  # the oldest day kept
        self._by_id: dict[str, _Seen] = {}
        since = datetime.combine(self._first, time(0), UTC)
        for exec_id, when, sid, symbol in journal.reads.recent_fills(since):
            # Restored fills count as commissioned: a report after a restart is not re-booked.
            self._by_id[exec_id] = _Seen(_utc_day(when), sid, symbol, True)

    def __len__(self) -> int:
        return len(self._by_id)

    def seen(self, exec_id: str, when: datetime | None) -> bool:
        """Whether the execution (``when``: its time, None if the broker gave none) was routed."""
        if exec_id in self._by_id:
            return True
        self._advance()
        if when is None or _utc_day(when) < self._first:
            return self._journal.reads.has_fill(exec_id)
        return False

    def add(self, exec_id: str, when: datetime, strategy_id: str, symbol: str) -> None:
        self._by_id[exec_id] = _Seen(_utc_day(when), strategy_id, symbol, False)

    def take_commission(self, exec_id: str) -> tuple[str, str] | None:
        """(strategy_id, symbol) of a routed execution whose commission is not booked yet, now
        marked booked; None if it is booked, restored, or unknown."""
        entry = self._by_id.get(exec_id)
        if entry is None or entry.commissioned:
            return None
        entry.commissioned = True
        return entry.strategy_id, entry.symbol

    def _advance(self) -> None:
        """Move the window to the clock's day, dropping the days it leaves (once a day)."""
        first = _window_start(self._now())
        if first <= self._first:
            return
        self._first = first
        self._by_id = {k: e for k, e in self._by_id.items() if e.day >= first}


def _utc_day(when: datetime) -> date:
    return (when.astimezone(UTC) if when.tzinfo else when).date()


def _window_start(now: datetime) -> date:
    return _utc_day(now) - timedelta(days=CUSHION_DAYS)
