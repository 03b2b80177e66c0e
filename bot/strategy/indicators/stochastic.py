"""Stochastic oscillator: where the close sits in the last n bars' high-low range."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np
import pandas as pd

from bot.strategy.indicators.common import NAN, SpecBase, check_int
from bot.strategy.indicators.vectorized import ewm_mean, rolling_mean
from bot.strategy.indicators.windows import Ewm, ExactWindow, RollingExtreme, com_from_span


class StochValue(NamedTuple):
    k: float
    d: float


@dataclass(frozen=True, slots=True)
class Stochastic(SpecBase):
    """%K = 100 * (C - LL_n) / (HH_n - LL_n) over the last n bars' lows and highs (NaN when
    HH_n == LL_n).

    ``d="sma"``: %D = SMA(smooth) of %K, ta's ``StochasticOscillator`` (stoch, stoch_signal).
    ``d="ema"``: the course's stochastic lecture (``stochOscltr(DF, a=20, b=3)``), %D =
    ``%K.ewm(span=smooth, min_periods=smooth).mean()`` with pandas' default ``adjust=True``;
    a NaN %K (flat range) leaves it standing, as pandas does. The course uses n=20, smooth=3."""

    n: int = 14
    smooth: int = 3
    d: Literal["sma", "ema"] = "sma"
    _OUTPUTS = StochValue._fields
    _VALUE = StochValue

    def __post_init__(self) -> None:
        check_int("Stochastic n", self.n)
        check_int("Stochastic smooth", self.smooth)
        if self.d not in ("sma", "ema"):
            raise ValueError(f'Stochastic d must be "sma" or "ema", got {self.d!r}')

    @property
    def name(self) -> str:
        ema = ",ema" if self.d == "ema" else ""
        return f"Stochastic({self.n},{self.smooth}{ema})"

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
        if self.d == "sma":
            return {"k": k, "d": rolling_mean(k, self.smooth)}
        com = com_from_span(self.smooth)
        return {"k": k, "d": ewm_mean(k, com, min_periods=self.smooth, adjust=True)}


class StochasticUpdater:
    __slots__ = ("_ema", "_highest", "_lowest", "_sma")

    def __init__(self, spec: Stochastic) -> None:
        self._highest = RollingExtreme(spec.n, maximum=True)
        self._lowest = RollingExtreme(spec.n, maximum=False)
        self._sma = ExactWindow(spec.smooth) if spec.d == "sma" else None
        self._ema = (
            Ewm(com_from_span(spec.smooth), adjust=True, min_periods=spec.smooth)
            if spec.d == "ema"
            else None
        )

    def update(self, high: float, low: float, close: float, volume: float) -> StochValue:
        highest = self._highest.push(high)
        lowest = self._lowest.push(low)
        # a flat range (or warm-up, where both are NaN and the comparison is False) gives NaN
        k = NAN if not highest > lowest else 100 * (close - lowest) / (highest - lowest)
        if self._ema is not None:
            return StochValue(k, self._ema.update(k))
        assert self._sma is not None
        self._sma.push(k)
        return StochValue(k, self._sma.mean())
