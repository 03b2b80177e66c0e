"""Which ticks cannot change any working order: the in-process backtester skips them (its fast
paths must give the very fills the full tick path gives; tests/backtest prove it)."""

from __future__ import annotations

from bot.sim.broker import SimBroker, tick_is_liquid
from bot.sim.orders import Phase
from bot.sim.types import SimTick


def quiet_between(broker: SimBroker, con_id: int, low: float, high: float) -> bool:
    """Whether no trade price in [low, high] (and the quotes around it) can change any
    working order on ``con_id``: each is a resting limit that has met a tick since it
    arrived, or a stop or if-touched order not triggered yet, whose price lies outside the
    range on the side that matters. Then its ticks there can be skipped.

    A limit fresh from its arrival (or a modify) fills against the quote (matching's
    ``on_arrival``), so it needs its first tick; an untriggered stop or if-touched order
    reads the trade price alone, the same on any tick, fresh or not."""
    inst = broker.instruments.by_con_id(con_id)
    margin = inst.spread + inst.min_tick  # the quote is within this of the trade price
    for o in broker.working_on(con_id):
        if o.phase is not Phase.ACTIVE:
            return False
        kind, side, order = o.order.orderType, o.side, o.order
        if kind == "LMT" or (kind == "STP LMT" and o.match.triggered):
            if o.match.fresh:
                return False
            lmt = order.lmtPrice
            hit = low - margin <= lmt if side > 0 else high + margin >= lmt
        elif kind in ("STP", "STP LMT"):
            hit = high >= order.auxPrice if side > 0 else low <= order.auxPrice
        elif kind == "MIT":
            hit = low <= order.auxPrice if side > 0 else high >= order.auxPrice
        else:  # market, trailing (its stop moves with every print), at the close
            return False
        if hit:
            return False
    return True


def takes_any_price(broker: SimBroker, tick: SimTick) -> bool:
    """Whether every working order on the tick's contract fills whole on it, whatever its
    price and size (market orders, no participation cap, in their session): then no later
    tick matters to them."""
    if broker.config.participation is not None:
        return False
    liquid = tick_is_liquid(broker.instruments.by_con_id(tick.con_id), tick.time)
    return all(
        o.order.orderType == "MKT"
        and o.phase is Phase.ACTIVE
        and o.order.tif != "FOK"
        and (liquid or o.order.outsideRth)
        for o in broker.working_on(tick.con_id)
    )
