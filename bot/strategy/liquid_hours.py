"""Whether a contract's liquid hours are on: one rule for the risk manager's trading window,
the staleness watchdog and the freshness report."""

from __future__ import annotations

from bisect import bisect_right
from datetime import UTC, datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.strategy.context import SymbolInfo

Session = tuple[datetime, datetime]  # [open, close) in UTC
# The session of a contract whose hours are unknown (a test contract, details without
# liquidHours): a feed that should flow is assumed to, so it counts as always liquid.
ALWAYS: Session = (datetime.min.replace(tzinfo=UTC), datetime.max.replace(tzinfo=UTC))


def liquid_session(info: SymbolInfo | None, now: datetime) -> Session | None:
    """The liquid session holding ``now``; None between sessions."""
    if info is None or not info.sessions:
        return ALWAYS
    i = bisect_right(info.sessions, now, key=lambda s: s[0]) - 1
    return info.sessions[i] if i >= 0 and now < info.sessions[i][1] else None
