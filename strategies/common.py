"""Pieces the built-in strategies share: the Params base and the protective stop of a long."""

from __future__ import annotations

import math
from datetime import time
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict

from bot.model.events import (
    FillEvent,
    ModifyOrder,
    OrderIntent,
    OrderSpec,
    OrderType,
    PlaceOrder,
    Side,
)
from bot.strategy.api import StrategyContext

STOP = "stop"


class StrategyParams(BaseModel):
    """Strict, frozen params; each field's docstring is its description (``ibbot strategies``)."""

    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)


def _not_sexagesimal(v: Any) -> Any:
    if isinstance(v, int) and not isinstance(v, bool):  # YAML 1.1 reads 15:45 as 945
        raise ValueError('write the time in quotes, e.g. "15:45"')
    return v


def _known_zone(v: str) -> str:
    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r}, e.g. America/New_York") from None
    return v


LocalTime = Annotated[time, BeforeValidator(_not_sexagesimal)]
"""A wall-clock time of day ("15:45") in the exchange's time zone."""
TimeZoneName = Annotated[str, AfterValidator(_known_zone)]
"""An IANA time zone name, e.g. America/New_York."""
StopTif = Literal["DAY", "GTC"]
"""Time in force of a protective stop."""


def defined(*values: Any) -> bool:
    """True when no value (or NamedTuple field) is NaN, i.e. every indicator has warmed up."""
    for v in values:
        fields = v if isinstance(v, tuple) else (v,)
        if any(math.isnan(f) for f in fields):
            return False
    return True


class LongStop:
    """The one STP sell, tagged ``"stop"``, that protects each long position.

    It is placed when the entry fills, for the filled quantity (so a partial fill is never
    over-protected: a larger stop would open a short), and grows with later fills. ``trail``
    moves its price only ever up (a ratchet), or, with ``ratchet=False``, to wherever it is
    asked, down as well. It is modified in place, never stacked.
    """

    def __init__(self, ctx: StrategyContext, tif: str | None) -> None:
        self.ctx = ctx
        self.tif = tif
        self._armed: dict[str, float] = {}  # stop price decided at the entry signal
        self._level: dict[str, float] = {}  # latest stop price requested
        self._qty: dict[str, float] = {}  # entry quantity filled (and protected) so far

    def arm(self, symbol: str, price: float) -> None:
        self._armed[symbol] = price

    def reset(self, symbol: str) -> None:
        for d in (self._armed, self._level, self._qty):
            d.pop(symbol, None)

    def on_entry_fill(self, fill: FillEvent) -> list[OrderIntent]:
        sym = fill.symbol
        if sym in self._qty:  # a later partial fill: widen the stop we already placed
            self._qty[sym] += fill.quantity
            return [ModifyOrder(sym, STOP, quantity=self._qty[sym], reason="entry filled more")]
        if sym not in self._armed:
            return []
        self._qty[sym] = fill.quantity
        return [self._place(sym, fill.quantity, self._armed[sym], "protective stop")]

    def trail(self, symbol: str, price: float, *, ratchet: bool = True) -> list[OrderIntent]:
        """Raise the stop to ``price`` if that is higher (``ratchet=False``: move it to
        ``price`` if that is any different); place one if the long has none."""
        working = self.ctx.working_orders(symbol).get(STOP)
        if working is None:
            # Never placed (a long adopted after a restart) or gone (a DAY stop expired): the
            # executor lists an order from its submission on, so this cannot stack a second one.
            qty = self.ctx.position(symbol)
            self._qty[symbol] = qty
            return [self._place(symbol, qty, price, "long without a stop")]
        # The executor may report the old price until IB confirms a modify, so our own last
        # request comes first: a ratchet never steps below it, a re-set never repeats it.
        reported = working.spec.stop_price
        if ratchet:
            current = max(self._level.get(symbol, -math.inf), reported or -math.inf)
            if price <= current:
                return []
            reason = f"trail stop to {price}"
        else:
            if price == self._level.get(symbol, reported):
                return []
            reason = f"move stop to {price}"
        self._level[symbol] = price
        return [ModifyOrder(symbol, STOP, stop_price=price, reason=reason)]

    def _place(self, symbol: str, qty: float, price: float, reason: str) -> PlaceOrder:
        self._level[symbol] = price
        spec = OrderSpec(Side.SELL, qty, OrderType.STOP, stop_price=price, tif=self.tif)
        return PlaceOrder(symbol, spec, tag=STOP, reason=reason)
