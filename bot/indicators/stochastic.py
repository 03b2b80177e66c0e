"""Stochastic oscillator: where the close sits in the last n bars' high-low range."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
import pandas as pd

from bot.indicators.common import NAN, SpecBase, check_int
from bot.indicators.vectorized import rolling_mean
from bot.indicators.windows import ExactWindow, RollingExtreme


class StochValue(NamedTuple):
    k: float
    d: float


@dataclass(frozen=True, slots=True)
class Stochastic(SpecBase):
    """%K = 100 * (C - LL_n) / (HH_n - LL_n) over the last n bars' lows and highs (NaN when
    HH_n == LL_n); %D = SMA(smooth) of %K. ta's ``StochasticOscillator`` (stoch, stoch_signal);
    the course uses n=20 with a 3-bar %D."""

    n: int = 14
    smooth: int = 3
    _OUTPUTS = StochValue._fields
    _VALUE = StochValue

    def __post_init__(self) -> None:
        check_int("Stochastic n", self.n)
        check_int("Stochastic smooth", self.smooth)

    @property
    def name(self) -> str:
        return f"Stochastic({self.n},{self.smooth})"

    @property
    def warmup(self) -> int:
        return self.n + self.smooth - 1

    def incremental(self) -> StochasticUpdater:
        return StochasticUpdater(self)

    def _compute(
        self, high: np.ndarray, low: np.ndarray, close: np.ndarray
    ) -> dict[str, np.ndarray]:
        n = self.n
        lowest = pd.Series(low).rolling(n, min_periods=n).min().to_numpy()
        highest = pd.Series(high).rolling(n, min_periods=n).max().to_numpy()
        with np.errstate(divide="ignore", invalid="ignore"):
            k = np.where(highest > lowest, 100 * (close - lowest) / (highest - lowest), np.nan)
        return {"k": k, "d": rolling_mean(k, self.smooth)}


class StochasticUpdater:
    __slots__ = ("_d", "_highest", "_lowest")

    def __init__(self, spec: Stochastic) -> None:
        self._highest = RollingExtreme(spec.n, maximum=True)
        self._lowest = RollingExtreme(spec.n, maximum=False)
        self._d = ExactWindow(spec.smooth)

    def update(self, high: float, low: float, close: float, volume: float) -> StochValue:
        highest = self._highest.push(high)
        lowest = self._lowest.push(low)
        # a flat range (or warm-up, where both are NaN and the comparison is False) gives NaN
        k = NAN if not highest > lowest else 100 * (close - lowest) / (highest - lowest)
        self._d.push(k)
        return StochValue(k, self._d.mean())
