"""How an order enters the simulated broker: the broker's own copy of a new order, its
deadlines (DAY expiry, the close of MOC/LOC), and the terms a modify may change, with IB's
refusals of a modify it cannot take."""

from __future__ import annotations

import copy
from datetime import datetime, timedelta

from ib_insync import Contract, Order

from bot.sim import validation as v
from bot.sim.instruments import Instrument
from bot.sim.matching import CLOSE_TYPES
from bot.sim.orders import Phase, SimOrder, arrival_state

# Fields a modify (placeOrder with a working orderId) may change.
_MODIFIABLE = (
    "totalQuantity",
    "lmtPrice",
    "auxPrice",
    "trailingPercent",
    "trailStopPrice",
    "tif",
    "outsideRth",
    "transmit",
    "orderRef",
    "goodTillDate",
)


def new_sim_order(
    account: str, client_id: int, contract: Contract, inst: Instrument, order: Order,
    now: datetime, *, perm_id: int, seq: int,
) -> SimOrder:  # fmt: skip
    """The broker's own copy of a new order (the client's object is never changed)."""
    own = copy.copy(order)
    own.permId = perm_id
    own.clientId = client_id
    own.account = account
    own.tif = (own.tif or "DAY").upper()
    own.action = own.action.upper()
    o = SimOrder(
        account=account,
        client_id=client_id,
        contract=contract,
        instrument=inst,
        order=own,
        seq=seq,
        phase=_initial_phase(own),
        placed_at=now,
    )
    set_deadlines(o, now)
    o.match = arrival_state(own)
    return o


def set_deadlines(o: SimOrder, now: datetime) -> None:
    """DAY: the session close (outsideRth: the end of the extended session); MOC/LOC: the
    close of the regular session."""
    inst, order = o.instrument, o.order
    o.expires_at = None
    o.close_at = None
    if order.orderType in CLOSE_TYPES:
        o.close_at = _next_close(inst, now, liquid=True)
    elif order.tif == "DAY":
        o.expires_at = _next_close(inst, now, liquid=not order.outsideRth)


def modified(o: SimOrder, contract: Contract, order: Order) -> Order | v.Rejection:
    """The working order ``o`` with the modifiable terms of ``order``, or IB's refusal."""
    if o.done:
        return v.simple(v.MODIFY_FILLED if o.final_status == "Filled" else v.DUPLICATE_ID)
    if contract.conId != o.contract.conId or order.action.upper() != o.order.action:
        return v.simple(v.MODIFY_MISMATCH)
    if order.orderType != o.order.orderType:
        return v.simple(v.MODIFY_MISMATCH)
    merged = copy.copy(o.order)
    for name in _MODIFIABLE:
        setattr(merged, name, getattr(order, name))
    merged.tif = (merged.tif or "DAY").upper()
    rej = v.check_terms(merged, o.instrument)
    if rej is None and merged.totalQuantity < o.filled:
        rej = v.rejected("The order size cannot be below the filled quantity.")
    return merged if rej is None else rej


def _initial_phase(order: Order) -> Phase:
    if not order.transmit:
        return Phase.HELD
    return Phase.CHILD if order.parentId else Phase.ACTIVE


def _next_close(inst: Instrument, now: datetime, liquid: bool) -> datetime | None:
    """The end of the first (regular or extended) session ending after ``now``."""
    day = now.astimezone(inst.tz).date()
    for i in range(10):
        d = day + timedelta(days=i)
        bounds = inst.liquid_session(d) if liquid else inst.trading_session(d)
        if bounds is not None and bounds[1] > now:
            return bounds[1]
    return None
