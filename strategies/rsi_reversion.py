"""RSI mean reversion, long only, with an ATR stop.

Flat and RSI below ``oversold``: a market buy sized by the strategy's sizing. When it fills, a
stop sell for the filled quantity goes in at close - ``atr_mult`` x ATR (Wilder), rounded to the
tick. Long and RSI above ``overbought``: the stop is cancelled and the position sold at market.
"""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field, model_validator

from bot.model.events import (
    Bar,
    CancelOrder,
    FillEvent,
    OrderIntent,
    OrderSpec,
    PlaceOrder,
    Side,
)
from bot.strategy.api import Strategy, StrategyContext
from bot.strategy.indicators import ATR, RSI, IndicatorSpec
from bot.strategy.registry import register
from strategies.common import STOP, LongStop, StopTif, StrategyParams, defined

ENTRY, EXIT = "entry", "exit"


class RsiReversionParams(StrategyParams):
    rsi_n: int = Field(default=14, ge=1)
    """RSI period (Wilder)."""
    oversold: float = Field(default=30.0, gt=0, lt=100)
    """Buy when flat and the RSI is below this."""
    overbought: float = Field(default=70.0, gt=0, lt=100)
    """Sell the long when the RSI is above this."""
    atr_n: int = Field(default=14, ge=1)
    """ATR period (Wilder) for the stop distance."""
    atr_mult: float = Field(default=2.0, gt=0)
    """The stop sits this many ATRs below the entry bar's close."""
    stop_tif: StopTif | None = "GTC"
    """Stop time in force; GTC keeps a long held overnight protected (null: executor default)."""

    @model_validator(mode="after")
    def _ordered(self) -> RsiReversionParams:
        if self.oversold >= self.overbought:
            raise ValueError(
                f"oversold ({self.oversold}) must be below overbought ({self.overbought})"
            )
        return self


@register("rsi_reversion")
class RsiReversion(Strategy[RsiReversionParams]):
    """Buy RSI < 30, sell RSI > 70, with an ATR stop on the long."""

    Params = RsiReversionParams

    def __init__(self, ctx: StrategyContext, params: RsiReversionParams) -> None:
        super().__init__(ctx, params)
        self.stops = LongStop(ctx, params.stop_tif)

    def indicators(self) -> Mapping[str, IndicatorSpec]:
        return {"rsi": RSI(self.params.rsi_n), "atr": ATR(self.params.atr_n)}

    def on_bar(self, bar: Bar) -> list[OrderIntent]:
        sym, ctx, p = bar.symbol, self.ctx, self.params
        rsi, atr = ctx.indicator(sym, "rsi"), ctx.indicator(sym, "atr")
        working, pos = ctx.working_orders(sym), ctx.position(sym)
        if not defined(rsi, atr) or ENTRY in working or EXIT in working:
            return []  # warming up, or an order of ours is still on its way
        if pos > 0:
            if rsi <= p.overbought:
                return []
            # Cancel the stop first so that it cannot also sell the long.
            out: list[OrderIntent] = [CancelOrder(sym, STOP, "exit")] if STOP in working else []
            sell = OrderSpec(Side.SELL, pos)
            out.append(PlaceOrder(sym, sell, tag=EXIT, reason=f"RSI {rsi:.1f} > {p.overbought}"))
            return out
        self.stops.reset(sym)
        out = [CancelOrder(sym, STOP, "flat")] if STOP in working else []
        if pos == 0 and rsi < p.oversold:
            qty = ctx.quantity_for(sym, bar.close)
            if qty > 0:
                self.stops.arm(sym, ctx.round_to_tick(sym, bar.close - p.atr_mult * atr))
                buy = OrderSpec(Side.BUY, qty)
                out.append(PlaceOrder(sym, buy, tag=ENTRY, reason=f"RSI {rsi:.1f} < {p.oversold}"))
        return out

    def on_fill(self, fill: FillEvent) -> list[OrderIntent]:
        if fill.tag == ENTRY and fill.side is Side.BUY:
            return self.stops.on_entry_fill(fill)
        return []
