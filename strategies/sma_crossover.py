"""Fast/slow SMA crossover: the reference strategy for benchmarks and cross-checks.

On the bar where the fast SMA crosses above the slow one the target is long; where it crosses
below, flat (``long_flat``) or short (``long_short``). Positions are set with TargetPosition, the
size from the strategy's configured sizing (``ctx.quantity_for``). Nothing happens between
crosses, so a strategy started mid-trend waits for the next cross.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field, model_validator

from bot.model.events import Bar, OrderIntent, TargetPosition
from bot.strategy.api import Strategy
from bot.strategy.indicators import SMA, IndicatorSpec
from bot.strategy.registry import register
from strategies.common import StrategyParams, defined


class SmaCrossoverParams(StrategyParams):
    fast: int = Field(default=10, ge=1)
    """Bars of the fast SMA of the close."""
    slow: int = Field(default=30, ge=2)
    """Bars of the slow SMA of the close (must be more than fast)."""
    mode: Literal["long_flat", "long_short"] = "long_flat"
    """On a cross down: go flat, or reverse to short."""

    @model_validator(mode="after")
    def _fast_below_slow(self) -> SmaCrossoverParams:
        if self.fast >= self.slow:
            raise ValueError(f"fast ({self.fast}) must be less than slow ({self.slow})")
        return self


@register("sma_crossover")
class SmaCrossover(Strategy[SmaCrossoverParams]):
    """Long above a fast/slow SMA cross up; flat or short after a cross down."""

    Params = SmaCrossoverParams

    def indicators(self) -> Mapping[str, IndicatorSpec]:
        return {"fast": SMA(self.params.fast), "slow": SMA(self.params.slow)}

    def on_bar(self, bar: Bar) -> list[OrderIntent]:
        sym, ind = bar.symbol, self.ctx.indicator
        fast, slow = ind(sym, "fast"), ind(sym, "slow")
        fast_1, slow_1 = ind(sym, "fast", ago=1), ind(sym, "slow", ago=1)
        if not defined(fast, slow, fast_1, slow_1):
            return []
        if fast > slow and fast_1 <= slow_1:
            target, why = self.ctx.quantity_for(sym, bar.close), "fast SMA crossed above slow"
        elif fast < slow and fast_1 >= slow_1:
            short = self.params.mode == "long_short"
            target = -self.ctx.quantity_for(sym, bar.close) if short else 0
            why = "fast SMA crossed below slow"
        else:
            return []
        if target == self.ctx.position(sym):
            return []
        return [TargetPosition(sym, target, reason=why)]
