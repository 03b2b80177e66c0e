"""Paused entries: the engine's gate for intents that would add exposure while trading is unsafe.

Until the risk manager has a REDUCING state, this is it. A pause has a reason ("connectivity",
"maintenance", "stale data", "reject storm") and a scope: every strategy, one strategy, or one
symbol. While any pause covers an intent's strategy or symbol, intents that would increase the
position are refused with that reason (journalled like a risk rejection); exits, reducing
orders, modifies and cancels pass, so a long can always be protected or closed.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from bot.events import OrderIntent, PlaceBracket, PlaceOrder, TargetPosition

log = logging.getLogger(__name__)

ALL = "*"


@dataclass(frozen=True, slots=True)
class Pause:
    reason: str  # "connectivity", "maintenance", "stale data", "reject storm"
    detail: str  # what the operator reads: "IB connection lost (1100)"
    strategy_id: str = ALL
    symbol: str = ALL


class EntryGate:
    """The pauses in force, by (reason, strategy, symbol)."""

    def __init__(self) -> None:
        self._pauses: dict[tuple[str, str, str], Pause] = {}

    def pause(self, reason: str, detail: str, *, strategy_id: str = ALL, symbol: str = ALL,
              expected: bool = False) -> bool:  # fmt: skip
        """Pause entries in that scope; False if that pause was already in force.
        ``expected`` (the maintenance window): logged at INFO, not as an alarm."""
        key = (reason, strategy_id, symbol)
        if key in self._pauses:
            return False
        self._pauses[key] = Pause(reason, detail, strategy_id, symbol)
        log.log(logging.INFO if expected else logging.WARNING, "entries paused%s: %s (%s)",
                _scope(strategy_id, symbol), reason, detail)  # fmt: skip
        return True

    def resume(self, reason: str, *, strategy_id: str = ALL, symbol: str = ALL) -> bool:
        """Lift that pause; False if it was not in force."""
        pause = self._pauses.pop((reason, strategy_id, symbol), None)
        if pause is None:
            return False
        log.info("entries resumed%s: %s over", _scope(strategy_id, symbol), reason)
        return True

    def paused(self, reason: str, *, strategy_id: str = ALL, symbol: str = ALL) -> bool:
        return (reason, strategy_id, symbol) in self._pauses

    @property
    def pauses(self) -> list[Pause]:
        return list(self._pauses.values())

    def blocking(self, strategy_id: str, symbol: str) -> Pause | None:
        """The first pause covering this strategy and symbol, if any (hot path: no pause, no
        work)."""
        if not self._pauses:
            return None
        for p in self._pauses.values():
            if p.strategy_id in (ALL, strategy_id) and p.symbol in (ALL, symbol):
                return p
        return None

    def refusal(self, strategy_id: str, intent: OrderIntent, position: float) -> str | None:
        """Why this intent is refused now, or None (it does not add exposure, or no pause)."""
        if not self._pauses:
            return None
        symbol = getattr(intent, "symbol", ALL)
        pause = self.blocking(strategy_id, symbol)
        if pause is None or not adds_exposure(intent, position):
            return None
        return f"{pause.reason}: entries paused ({pause.detail}); only exits are accepted"


def adds_exposure(intent: OrderIntent, position: float) -> bool:
    """Whether the intent could make the position larger or flip it (a bracket: its entry)."""
    if isinstance(intent, TargetPosition):
        target = intent.quantity
        return target * position < 0 or abs(target) > abs(position) + 1e-9
    if isinstance(intent, PlaceOrder):
        spec = intent.order
    elif isinstance(intent, PlaceBracket):
        spec = intent.entry
    else:
        return False  # cancels, modifies, the kill switch
    delta = spec.action.sign * spec.quantity
    reduces = position * delta < 0 and abs(delta) <= abs(position) + 1e-9
    return not reduces


def _scope(strategy_id: str, symbol: str) -> str:
    parts = [f"strategy {strategy_id}" if strategy_id != ALL else "",
             symbol if symbol != ALL else ""]  # fmt: skip
    text = " ".join(p for p in parts if p)
    return f" for {text}" if text else ""
