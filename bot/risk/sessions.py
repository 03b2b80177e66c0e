"""The liquid session a moment falls in, per symbol, cached until it ends."""

from __future__ import annotations

from datetime import datetime

from bot.strategy.context import SymbolInfo
from bot.strategy.liquid_hours import liquid_session


class SessionCache:
    """Shared by the trading window (entries) and the flatten before the close."""

    __slots__ = ("_found",)

    def __init__(self) -> None:
        self._found: dict[str, tuple[datetime, datetime] | None] = {}

    def find(self, info: SymbolInfo, now: datetime) -> tuple[datetime, datetime] | None:
        """The liquid session ``now`` falls in, if any (cached until it ends)."""
        cached = self._found.get(info.symbol)
        if cached is not None and cached[0] <= now < cached[1]:
            return cached
        found = liquid_session(info, now)
        self._found[info.symbol] = found
        return found
