"""OrderSpec -> ib_insync Order: prices on the tick grid, TIF defaults, tags, bracket legs.

Pure functions, no I/O: the executor decides when to send, this module only decides what.
Order types and their price fields follow IB's "available orders" page
(https://interactivebrokers.github.io/tws-api/available_orders.html).
"""

from __future__ import annotations

import copy
import math
from dataclasses import MISSING, dataclass, fields
from typing import Final

from bot.client.ib import UNSET_DOUBLE, Order
from bot.model.events import OrderSpec, OrderType, PlaceBracket, Side
from bot.model.order_prices import AT_THE_CLOSE, LIMIT_PRICED, TRAILING, TRIGGER_PRICED
from bot.model.price_grid import round_to_tick

# IB's OCA type 3: reduce the sibling on a fill without blocking, so a partial take-profit
# shrinks the stop instead of cancelling it (which would leave the rest unprotected).
BRACKET_OCA_TYPE: Final = 3


@dataclass(frozen=True, slots=True)
class OrderDefaults:
    """What the executor config fills in when a spec leaves tif / outside_rth as None."""

    tif: str = "DAY"
    outside_rth: bool = False
    account: str = ""


def make_order_ref(prefix: str, strategy_id: str, symbol: str, tag: str, seq: int) -> str:
    return f"{prefix}:{strategy_id}:{symbol}:{tag}:{seq}"


@dataclass(frozen=True, slots=True)
class OrderRef:
    strategy_id: str
    symbol: str
    tag: str
    seq: int


def parse_order_ref(ref: str, prefix: str) -> OrderRef | None:
    """The parts of one of our orderRefs, or None for anything else (manual or other bots)."""
    parts = ref.split(":")
    if len(parts) < 5 or parts[0] != prefix:
        return None
    try:
        seq = int(parts[-1])
    except ValueError:
        return None
    # The tag is everything between symbol and seq, so a tag may itself contain ':'.
    return OrderRef(parts[1], parts[2], ":".join(parts[3:-1]), seq)


def validate_spec(spec: OrderSpec, symbol: str) -> str | None:
    """Why this leg cannot be built, in words an operator can act on; None when it can."""
    t = spec.order_type
    if not spec.quantity > 0 or not math.isfinite(spec.quantity):
        return f"{t} order for {symbol}: quantity must be positive, got {spec.quantity}"
    if t in LIMIT_PRICED and not _positive(spec.limit_price):
        return f"{t} order for {symbol} needs a positive limit_price, got {spec.limit_price}"
    if t in TRIGGER_PRICED and not _positive(spec.stop_price):
        return f"{t} order for {symbol} needs a positive stop_price, got {spec.stop_price}"
    if t is TRAILING and (spec.trail_amount is None) == (spec.trail_percent is None):
        return f"TRAIL order for {symbol} needs exactly one of trail_amount or trail_percent"
    if t is TRAILING and not _positive(spec.trail_amount or spec.trail_percent):
        return f"TRAIL order for {symbol}: the trail must be positive"
    return None


def validate_bracket(intent: PlaceBracket) -> str | None:
    """Legs valid, children on the other side of the entry, for the entry's quantity."""
    entry = intent.entry
    for leg in (entry, intent.take_profit, intent.stop_loss):
        if leg is not None and (why := validate_spec(leg, intent.symbol)):
            return why
    for name, child in (("take_profit", intent.take_profit), ("stop_loss", intent.stop_loss)):
        if child is None:
            continue
        if child.action is entry.action:
            must = entry.action.opposite
            return f"bracket {intent.tag} on {intent.symbol}: {name} must be {must}"
        if child.quantity != entry.quantity:
            return (
                f"bracket {intent.tag} on {intent.symbol}: {name} quantity {child.quantity} "
                f"differs from the entry's {entry.quantity}"
            )
    return None


def _positive(x: float | None) -> bool:
    return x is not None and math.isfinite(x) and x > 0


# Order() runs ~140 keyword defaults (about 5 µs, on the path from a bar to the socket); a
# shallow copy of a default Order is the same object at a fraction of that, once its mutable
# defaults are made anew so that no two orders share a list.
_DEFAULT_ORDER: Final = Order()
_FRESH_FIELDS: Final = tuple(
    (f.name, f.default_factory) for f in fields(Order) if f.default_factory is not MISSING
)


def _new_order() -> Order:
    order = copy.copy(_DEFAULT_ORDER)
    for name, factory in _FRESH_FIELDS:
        setattr(order, name, factory())
    return order


def build_order(spec: OrderSpec, *, tick: float, defaults: OrderDefaults, order_ref: str) -> Order:
    """One ib_insync Order for one leg; prices rounded to ``tick``. Call validate_spec first."""
    t = spec.order_type
    order = _new_order()
    order.action = spec.action.value
    order.totalQuantity = spec.quantity
    order.orderType = t.value
    order.tif = "DAY" if t in AT_THE_CLOSE else (spec.tif or defaults.tif)
    order.outsideRth = defaults.outside_rth if spec.outside_rth is None else spec.outside_rth
    order.orderRef = order_ref
    order.account = defaults.account
    apply_prices(order, spec, tick)
    return order


def apply_prices(order: Order, spec: OrderSpec, tick: float) -> None:
    """Write the spec's price fields onto ``order`` (new order or modify in place)."""
    t = spec.order_type
    if t in LIMIT_PRICED and spec.limit_price is not None:
        order.lmtPrice = round_to_tick(spec.limit_price, tick)
    if t in TRIGGER_PRICED and spec.stop_price is not None:
        order.auxPrice = round_to_tick(spec.stop_price, tick)
    if t is OrderType.TRAIL:
        if spec.trail_amount is not None:
            order.auxPrice = round_to_tick(spec.trail_amount, tick)
            order.trailingPercent = UNSET_DOUBLE
        elif spec.trail_percent is not None:
            order.trailingPercent = spec.trail_percent
            order.auxPrice = UNSET_DOUBLE
        if spec.stop_price is not None:
            order.trailStopPrice = round_to_tick(spec.stop_price, tick)
    order.totalQuantity = spec.quantity


def spec_from_order(order: Order) -> OrderSpec:
    """The OrderSpec of an order adopted from IB (reconcile), inverse of build_order."""

    def price(x: float) -> float | None:
        return None if x == UNSET_DOUBLE or x is None else float(x)

    t = OrderType(order.orderType)
    limit = price(order.lmtPrice) if t in LIMIT_PRICED else None
    stop: float | None = None
    trail_amount: float | None = None
    trail_percent: float | None = None
    if t in TRIGGER_PRICED:
        stop = price(order.auxPrice)
    elif t is OrderType.TRAIL:
        stop = price(order.trailStopPrice)
        trail_amount = price(order.auxPrice)
        trail_percent = price(order.trailingPercent)
    return OrderSpec(
        action=Side(order.action),
        quantity=float(order.totalQuantity),
        order_type=t,
        limit_price=limit,
        stop_price=stop,
        trail_amount=trail_amount,
        trail_percent=trail_percent,
        tif=order.tif or None,
        outside_rth=bool(order.outsideRth),
    )
