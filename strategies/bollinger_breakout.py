"""Bollinger band breakout confirmed by trend strength (ADX), exit at the middle line.

Flat, a close above the upper band with ADX above ``adx_min``: long; below the lower band: short
(if ``allow_short``). A long exits when a close is back at or below the middle line, a short at
or above it. Positions are set with TargetPosition, sized by the strategy's sizing.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from bot.model.events import Bar, OrderIntent, TargetPosition
from bot.strategy.api import Strategy, StrategyContext
from bot.strategy.indicators import ADX, Bollinger, BollingerValue, IndicatorSpec
from bot.strategy.registry import register
from strategies.common import StrategyParams, defined


class BollingerBreakoutParams(StrategyParams):
    n: int = Field(default=20, ge=2)
    """Bollinger window (bars)."""
    k: float = Field(default=2.0, gt=0)
    """Band distance from the middle line, in standard deviations."""
    middle: Literal["sma", "ema"] = "sma"
    """Middle line: "sma" (ta, textbook) or "ema" (the IB API course)."""
    adx_n: int = Field(default=14, ge=1)
    """ADX period."""
    adx_min: float = Field(default=25.0, ge=0, le=100)
    """Enter only when the ADX is above this (a trending market)."""
    allow_short: bool = True
    """Also sell breakouts below the lower band."""


@register("bollinger_breakout")
class BollingerBreakout(Strategy[BollingerBreakoutParams]):
    """Enter on a close outside the band when ADX shows a trend; exit at the middle line."""

    Params = BollingerBreakoutParams

    def __init__(self, ctx: StrategyContext, params: BollingerBreakoutParams) -> None:
        super().__init__(ctx, params)
        self._sent: dict[str, float] = {}  # last target sent per symbol, not to repeat it

    def indicators(self) -> Mapping[str, IndicatorSpec]:
        p = self.params
        return {"bb": Bollinger(p.n, p.k, p.middle), "adx": ADX(p.adx_n)}

    def on_bar(self, bar: Bar) -> list[OrderIntent]:
        sym = bar.symbol
        bb, adx = self.ctx.indicator(sym, "bb"), self.ctx.indicator(sym, "adx")
        if not defined(bb, adx.adx):
            return []
        pos = self.ctx.position(sym)
        target, why = self._target(sym, pos, bar.close, bb, adx.adx)
        if target == pos:
            self._sent.pop(sym, None)
            return []
        sent = self._sent.get(sym)
        if sent is not None and _sign(sent) == _sign(target):
            return []  # that move is on its way; the position lags it (the size may differ)
        self._sent[sym] = target
        return [TargetPosition(sym, target, reason=why)]

    def _target(
        self, sym: str, pos: float, close: float, bb: BollingerValue, adx: float
    ) -> tuple[float, str]:
        if pos > 0:
            return (0.0, "close back at/below the middle line") if close <= bb.middle else (pos, "")
        if pos < 0:
            return (0.0, "close back at/above the middle line") if close >= bb.middle else (pos, "")
        if adx <= self.params.adx_min:
            return 0.0, ""
        if close > bb.upper:
            return self.ctx.quantity_for(sym, close), f"close above the upper band, ADX {adx:.1f}"
        if close < bb.lower and self.params.allow_short:
            return -self.ctx.quantity_for(sym, close), f"close below the lower band, ADX {adx:.1f}"
        return 0.0, ""


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)
