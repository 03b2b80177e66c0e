"""The per-intent rules that need no risk-manager state: order limits, the collar's legs,
counting sent orders, working quantities, the leg an intent adds (bot/risk/manager.py)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime

from bot.model.events import (
    ModifyOrder,
    OrderIntent,
    OrderSpec,
    PlaceBracket,
    PlaceOrder,
    Side,
    TargetPosition,
    WorkingOrder,
)
from bot.model.targets import in_flight, target_spec
from bot.orders.build import validate_bracket, validate_spec
from bot.risk.scope import Scope
from bot.risk.states import ACCOUNT

EPS = 1e-9


def order_limits(scopes: tuple[Scope, ...], symbol: str, spec: OrderSpec,
                  ref: float) -> str | None:  # fmt: skip
    """Allowed order types, max order quantity and notional: each scope's in turn."""
    for s in scopes:
        if not s.order_limits:
            continue
        allowed = s.allowed
        if allowed is not None and spec.order_type not in allowed:  # a StrEnum: a str
            names = ", ".join(sorted(allowed))
            where = "risk" if s.id == ACCOUNT else f"{s.id}'s risk"
            return (f"order type {spec.order_type} not allowed "
                    f"({where}.allowed_order_types: {names})")  # fmt: skip
        cap = s.max_order_quantity
        if cap is not None and spec.quantity > cap + EPS:
            return (f"max_order_quantity {cap:g} exceeded for {symbol} ({s.name}): "
                    f"order {spec.quantity:g}")  # fmt: skip
        cap = s.max_order_notional
        if cap is None:
            continue
        price = spec.limit_price or spec.stop_price or ref
        if not price > 0:  # NaN too: an unpriced order cannot be shown to be under the cap
            return f"max_order_notional: no reference price for {symbol} yet to value the order"
        notional = spec.quantity * price
        if notional > cap:
            return (
                f"max_order_notional {cap:g} exceeded for {symbol}: "
                f"order {spec.quantity:g} x {price:.2f} = {notional:.2f}"
            )
    return None


def off_collar(leg: OrderSpec | None, last: float, band: float) -> tuple[str, float] | None:
    """The leg's first price (limit, then stop) more than ``band`` from ``last``, named."""
    if leg is None:
        return None
    price = leg.limit_price
    if price is not None and abs(price - last) > band + EPS:
        return "limit", price
    price = leg.stop_price
    if price is not None and abs(price - last) > band + EPS:
        return "stop", price
    return None


def count_sent(scopes: tuple[Scope, ...], now: datetime, intent: OrderIntent | None = None,
           key: int = 0) -> None:  # fmt: skip
    """One more order sent in each scope (``intent``: remembered for the duplicate test)."""
    for s in scopes:
        if s.max_orders_per_minute:
            s.recent.append(now)
        s.day_orders += 1
        if intent is not None and s.duplicates is not None:
            s.sent_intents[key] = (intent, now + s.duplicates)
            if len(s.sent_intents) > 1000:
                s.sent_intents = {k: v for k, v in s.sent_intents.items() if v[1] > now}


def in_flight_of(working: Mapping[str, WorkingOrder] | None) -> float:
    return in_flight(working.values()) if working else 0  # no generator when there are none


def pending_quantity(views: Iterable[WorkingOrder], action: Side) -> float:
    """Worst case: every same-side working order fills (exits on the other side may not)."""
    n = 0.0
    for w in views:  # a loop, not sum(genexpr): this runs per decision
        if w.spec.action is action and (left := w.spec.quantity - w.filled) > 0:
            n += left
    return n


def position_text(cap: float, symbol: str, s: Scope, held: float, pending: float,
                   order: float) -> str:  # fmt: skip
    shown = f"position {held:g}"
    if pending:
        shown += f" + working {pending:g}"
    where = "" if s.id != ACCOUNT else " (the account, all strategies)"
    return f"max_position {cap:g} exceeded for {symbol}{where}: {shown} + order {order:g}"


def as_spec(intent: OrderIntent, position: float, working: Mapping[str, WorkingOrder] | None,
             ) -> tuple[OrderSpec | None, str | None]:  # fmt: skip
    """The order leg that adds exposure (the entry of a bracket), or why it is malformed."""
    if isinstance(intent, PlaceOrder):
        return intent.order, validate_spec(intent.order, intent.symbol)
    if isinstance(intent, PlaceBracket):
        return intent.entry, validate_bracket(intent)
    if isinstance(intent, TargetPosition):
        # The executor's own rule (bot/model/targets.py): target - position - in flight.
        spec = target_spec(intent.quantity, position, in_flight_of(working))
        if spec is None:
            return None, None
        return spec, None
    if isinstance(intent, ModifyOrder):
        return _modified_spec(intent, working)
    return None, None


def _modified_spec(intent: ModifyOrder, working: Mapping[str, WorkingOrder] | None,
                   ) -> tuple[OrderSpec | None, str | None]:  # fmt: skip
    if working is None:
        return None, None  # the executor will refuse a modify of an unknown tag
    wo = working.get(intent.tag)
    if wo is None:
        return None, f"no working order tagged {intent.tag!r} on {intent.symbol} to modify"
    if intent.quantity is not None and intent.quantity <= wo.filled:
        return None, (
            f"cannot modify {intent.tag!r} on {intent.symbol} to {intent.quantity:g}: "
            f"{wo.filled:g} already filled"
        )
    old = wo.spec
    extra = intent.quantity - old.quantity if intent.quantity is not None else 0.0
    limit = intent.limit_price if intent.limit_price is not None else old.limit_price
    stop = intent.stop_price if intent.stop_price is not None else old.stop_price
    if extra <= 0:
        # A price change or a smaller order adds no exposure; its new price meets the collar.
        if limit == old.limit_price and stop == old.stop_price:
            return None, None
        return OrderSpec(old.action, 0.0, old.order_type, limit, stop), None
    return OrderSpec(old.action, extra, old.order_type, limit, stop), None
