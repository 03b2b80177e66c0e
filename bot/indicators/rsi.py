"""Relative Strength Index with Wilder smoothing (ta's ``RSIIndicator``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.indicators.common import NAN, SpecBase, check_int
from bot.indicators.vectorized import ewm_mean
from bot.indicators.windows import Ewm, com_from_alpha


@dataclass(frozen=True, slots=True)
class RSI(SpecBase):
    """100 - 100 / (1 + avg_gain / avg_loss), both ``ewm(alpha=1/n, adjust=False)``; 100 when
    avg_loss is 0. As in ta, bar 0 counts as a zero gain and loss, so the first value is at
    bar n-1 (from n-1 price changes)."""

    n: int = 14
    _OUTPUTS = ("rsi",)

    def __post_init__(self) -> None:
        check_int("RSI n", self.n)

    @property
    def name(self) -> str:
        return f"RSI({self.n})"

    @property
    def warmup(self) -> int:
        return self.n

    def incremental(self) -> RSIUpdater:
        return RSIUpdater(self.n)

    def _compute(
        self, high: np.ndarray, low: np.ndarray, close: np.ndarray
    ) -> dict[str, np.ndarray]:
        diff = np.diff(close, prepend=np.nan)
        up = np.where(diff > 0, diff, 0.0)
        down = -np.where(diff < 0, diff, 0.0)
        com = com_from_alpha(1.0 / self.n)
        avg_up = ewm_mean(up, com, min_periods=self.n)
        avg_down = ewm_mean(down, com, min_periods=self.n)
        with np.errstate(divide="ignore", invalid="ignore"):
            rsi = np.where(avg_down == 0, 100.0, 100 - 100 / (1 + avg_up / avg_down))
        return {"rsi": rsi}


class RSIUpdater:
    __slots__ = ("_down", "_n", "_prev", "_up")

    def __init__(self, n: int) -> None:
        self._n = n
        self._prev = NAN
        com = com_from_alpha(1.0 / n)
        self._up = Ewm(com)
        self._down = Ewm(com)

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        diff = close - self._prev  # NaN on bar 0: neither a gain nor a loss
        self._prev = close
        up = self._up.update(diff if diff > 0 else 0.0)
        down = self._down.update(-diff if diff < 0 else 0.0)
        if self._up.count < self._n:
            return NAN
        if down == 0:
            return 100.0
        return 100 - 100 / (1 + up / down)
