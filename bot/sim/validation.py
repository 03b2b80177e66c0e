"""Order checks of the simulated broker, answered with IB's error codes and texts.

Texts checked against IB's published message-code table and gateway logs quoted in public
code: 103, 104, 105, 110, 113, 201 (prefix and the margin wording), 202, 387, 434, 10147,
10148. The short-sale reason after "Order rejected - reason:" is the simulator's own wording.
"""

from __future__ import annotations

from dataclasses import dataclass

from ib_insync import Order

from bot.model.ib_errors import ORDER_CANCELLED, ORDER_REJECTED
from bot.model.order_prices import LIMIT_PRICED, TRAILING, TRIGGER_PRICED
from bot.model.price_grid import on_tick_grid
from bot.sim.account import Account
from bot.sim.instruments import Instrument
from bot.sim.matching import CLOSE_TYPES, SUPPORTED_TYPES
from bot.sim.orders import is_set

DUPLICATE_ID = 103
MODIFY_FILLED = 104
MODIFY_MISMATCH = 105
PRICE_INCREMENT = 110
CLOSE_TIF = 113
REJECTED = ORDER_REJECTED
CANCELLED = ORDER_CANCELLED
UNSUPPORTED_TYPE = 387
ZERO_SIZE = 434
CANCEL_NOT_FOUND = 10147
CANCEL_NOT_CANCELLABLE = 10148

TEXT = {
    DUPLICATE_ID: "Duplicate order id",
    MODIFY_FILLED: "Can't modify a filled order.",
    MODIFY_MISMATCH: "Order being modified does not match original order.",
    PRICE_INCREMENT: "The price does not conform to the minimum price variation for this contract.",
    CLOSE_TIF: "The Tif option should be set to DAY for MOC and LOC orders.",
    CANCELLED: "Order Canceled - reason:",
    UNSUPPORTED_TYPE: "Unsupported order type for this exchange and security type.",
    ZERO_SIZE: "The order size cannot be zero.",
}
TIFS = frozenset({"DAY", "GTC", "IOC", "FOK", ""})
_AUX_IS_PRICE = TRIGGER_PRICED | {TRAILING}  # a trigger or a trailing amount


@dataclass(frozen=True, slots=True)
class Rejection:
    code: int
    text: str


def rejected(reason: str) -> Rejection:
    return Rejection(REJECTED, f"Order rejected - reason:{reason}")


def simple(code: int) -> Rejection:
    return Rejection(code, TEXT[code])


def cancel_not_found(order_id: int) -> Rejection:
    return Rejection(
        CANCEL_NOT_FOUND, f"OrderId {order_id} that needs to be cancelled is not found."
    )


def cancel_not_cancellable(order_id: int, status: str) -> Rejection:
    text = f"OrderId {order_id} that needs to be cancelled cannot be cancelled, state: {status}."
    return Rejection(CANCEL_NOT_CANCELLABLE, text)


def check_terms(order: Order, inst: Instrument) -> Rejection | None:
    """Static checks of one order against its instrument (type, size, prices, TIF)."""
    kind = order.orderType
    if kind not in SUPPORTED_TYPES:
        return simple(UNSUPPORTED_TYPE)
    if not order.totalQuantity or order.totalQuantity <= 0:
        return simple(ZERO_SIZE)
    if order.action.upper() not in ("BUY", "SELL"):
        return rejected(f"Invalid action {order.action!r}")
    tif = order.tif.upper()
    if tif not in TIFS:
        return rejected(f"Unsupported time in force {order.tif!r}")
    if kind in CLOSE_TYPES and tif not in ("DAY", ""):
        return simple(CLOSE_TIF)
    missing = _missing_price(order)
    if missing:
        return rejected(missing)
    for price in _prices(order):
        if not on_tick_grid(price, inst.min_tick):
            return simple(PRICE_INCREMENT)
    return None


def _missing_price(order: Order) -> str:
    kind = order.orderType
    if kind in LIMIT_PRICED and not is_set(order.lmtPrice):
        return "Limit price is missing"
    if kind in TRIGGER_PRICED and not is_set(order.auxPrice):
        return "Stop price is missing"
    if kind == "TRAIL" and not (is_set(order.auxPrice) or is_set(order.trailingPercent)):
        return "Trailing amount or trailing percent is missing"
    if kind == "TRAIL" and is_set(order.trailingPercent) and not 0 < order.trailingPercent < 100:
        return "The trailing percent must be between 0% and 100%"
    return ""


def _prices(order: Order) -> list[float]:
    """The prices IB checks against the minimum tick (a trailing amount is a price too)."""
    out = []
    if is_set(order.lmtPrice) and order.orderType in LIMIT_PRICED:
        out.append(order.lmtPrice)
    if is_set(order.auxPrice) and order.orderType in _AUX_IS_PRICE:
        out.append(order.auxPrice)
    if is_set(order.trailStopPrice) and order.orderType == "TRAIL":
        out.append(order.trailStopPrice)
    return out


def check_short(
    account: Account, inst: Instrument, side: int, qty: float, allow_short: bool
) -> Rejection | None:
    """A sell that would leave the account short needs a shortable instrument."""
    pos = account.positions.get(inst.con_id)
    after = (pos.qty if pos else 0.0) + side * qty
    if after < 0 and side < 0 and not (allow_short and inst.shortable):
        return rejected("Short sale is not allowed for this contract in this account.")
    return None


def check_margin(
    account: Account, con_id: int, side: int, qty: float, price: float | None = None
) -> Rejection | None:
    """Reject if, after this order, equity with loan value would not cover initial margin.

    Only orders that raise the gross position value can fail. The contract is valued at
    ``price`` (the broker's mark, or the market's last price before the first tick reached
    the broker); without any price the order is not checked.
    """
    mark = price if price is not None else account.mark(con_id, 0.0)
    if mark <= 0:
        return None
    pos = account.positions.get(con_id)
    held = pos.qty if pos else 0.0
    before = account.gross_position_value()
    after = before - abs(held * account.mark(con_id, 0.0)) + abs((held + side * qty) * mark)
    if after <= before:
        return None
    equity = account.net_liquidation()
    margin = account.margin_rate * after
    if equity >= margin:
        return None
    return rejected(
        "YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION YOUR EQUITY WITH"
        f" LOAN VALUE [{equity:.2f} USD] MUST EXCEED THE INITIAL MARGIN [{margin:.2f} USD]"
    )
