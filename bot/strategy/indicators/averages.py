"""Simple and exponential moving averages of the close."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bot.strategy.indicators.common import SpecBase, check_int
from bot.strategy.indicators.vectorized import ewm_mean, rolling_mean
from bot.strategy.indicators.windows import Ewm, ExactWindow, com_from_span


@dataclass(frozen=True, slots=True)
class SMA(SpecBase):
    """Mean of the last ``n`` closes (ta's ``SMAIndicator``)."""

    n: int = 20
    _OUTPUTS = ("sma",)

    def __post_init__(self) -> None:
        check_int("SMA n", self.n)

    @property
    def name(self) -> str:
        return f"SMA({self.n})"

    @property
    def warmup(self) -> int:
        return self.n

    def incremental(self) -> SMAUpdater:
        return SMAUpdater(self.n)

    def _compute(
        self, high: np.ndarray, low: np.ndarray, close: np.ndarray
    ) -> dict[str, np.ndarray]:
        return {"sma": rolling_mean(close, self.n)}


class SMAUpdater:
    __slots__ = ("_window",)

    def __init__(self, n: int) -> None:
        self._window = ExactWindow(n)

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        self._window.push(close)
        return self._window.mean()


@dataclass(frozen=True, slots=True)
class EMA(SpecBase):
    """``close.ewm(span=n, adjust=False, min_periods=n).mean()`` (ta's ``EMAIndicator``):
    seeded with the first close, NaN for the first ``n - 1`` bars."""

    n: int = 20
    _OUTPUTS = ("ema",)

    def __post_init__(self) -> None:
        check_int("EMA n", self.n)

    @property
    def name(self) -> str:
        return f"EMA({self.n})"

    @property
    def warmup(self) -> int:
        return self.n

    def incremental(self) -> EMAUpdater:
        return EMAUpdater(self.n)

    def _compute(
        self, high: np.ndarray, low: np.ndarray, close: np.ndarray
    ) -> dict[str, np.ndarray]:
        return {"ema": ewm_mean(close, com_from_span(self.n), min_periods=self.n)}


class EMAUpdater:
    __slots__ = ("_ewm",)

    def __init__(self, n: int) -> None:
        self._ewm = Ewm(com_from_span(n), min_periods=n)

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        return self._ewm.update(close)
