"""Target arithmetic: the one order that takes a position to a target (pure functions).

Orders still working toward a target count as in flight: earlier target and flatten orders
whatever their type, and market orders (about to fill), so a repeated target never sends the
same shares twice.
"""

from __future__ import annotations

from collections.abc import Iterable

from bot.model.events import OrderSpec, OrderType, Side, WorkingOrder

TARGET_TAGS = ("target.", "flatten.")
_EPS = 1e-9
# Enum members read once: on Python 3.11 each ``Side.BUY`` costs a descriptor call (~100 ns).
_BUY, _SELL, _MARKET, _LIMIT = Side.BUY, Side.SELL, OrderType.MARKET, OrderType.LIMIT


def in_flight(working: Iterable[WorkingOrder]) -> float:
    """Signed quantity still to fill of the working orders that move toward a target (the
    one rule: the executor sizes a TargetPosition with it, and so does the risk stage)."""
    return sum(
        w.spec.action.sign * max(w.spec.quantity - w.filled, 0.0)
        for w in working
        if w.spec.order_type is _MARKET or w.tag.startswith(TARGET_TAGS)
    )


def target_spec(
    target: float, position: float, inflight: float, limit_price: float | None = None
) -> OrderSpec | None:
    """The order for ``target - position - inflight`` (None: nothing to do): MKT, or LMT at
    ``limit_price`` when given."""
    diff = target - position - inflight
    if abs(diff) < _EPS:
        return None
    side = _BUY if diff > 0 else _SELL
    if limit_price is not None:
        return OrderSpec(side, abs(diff), _LIMIT, limit_price=limit_price)
    return OrderSpec(side, abs(diff), _MARKET)
