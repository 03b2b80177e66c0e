"""Bollinger Bands: a middle line +/- k rolling standard deviations of the close."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from bot.strategy.indicators.common import NAN, SpecBase, check_int
from bot.strategy.indicators.vectorized import ewm_mean, rolling_mean, rolling_std
from bot.strategy.indicators.windows import Ewm, ExactWindow, com_from_span


class BollingerValue(NamedTuple):
    middle: float
    upper: float
    lower: float
    width: float  # 100 * (upper - lower) / middle: ta's bollinger_wband (StockCharts BandWidth)
    width_abs: float  # upper - lower, in price units: the course's BB_width


@dataclass(frozen=True, slots=True)
class Bollinger(SpecBase):
    """Bands at middle +/- k * std(close, n, ddof).

    ``middle="sma"``: the n-bar SMA (ta's ``BollingerBands``, the textbook definition).
    ``middle="ema"``: the course's variant, ``ewm(span=n, min_periods=n)`` with pandas' default
    ``adjust=True`` (the course's literal code); the std is still the plain rolling std of the
    last n closes.

    Two widths: ``width``, a percentage of the middle (ta's ``bollinger_wband``), and
    ``width_abs``, upper - lower in price units (the course's ``BB_width``)."""

    n: int = 20
    k: float = 2.0
    middle: Literal["sma", "ema"] = "sma"
    ddof: int = 0
    _OUTPUTS = BollingerValue._fields
    _VALUE = BollingerValue

    def __post_init__(self) -> None:
        check_int("Bollinger n", self.n)
        if self.middle not in ("sma", "ema"):
            raise ValueError(f'Bollinger middle must be "sma" or "ema", got {self.middle!r}')
        check_int("Bollinger ddof", self.ddof, minimum=0)
        if self.ddof >= self.n:
            raise ValueError(f"Bollinger ddof must be < n, got ddof={self.ddof} n={self.n}")
        if not (isinstance(self.k, int | float) and math.isfinite(self.k) and self.k >= 0):
            raise ValueError(f"Bollinger k must be a finite number >= 0, got {self.k!r}")

    @property
    def name(self) -> str:
        ddof = f",ddof={self.ddof}" if self.ddof else ""
        return f"Bollinger({self.n},{self.k:g},{self.middle}{ddof})"

    @property
    def warmup(self) -> int:
        return self.n

    def incremental(self) -> BollingerUpdater:
        return BollingerUpdater(self)

    def _compute(
        self, high: np.ndarray, low: np.ndarray, close: np.ndarray
    ) -> dict[str, np.ndarray]:
        if self.middle == "sma":
            middle = rolling_mean(close, self.n)
        else:
            middle = ewm_mean(close, com_from_span(self.n), min_periods=self.n, adjust=True)
        std = rolling_std(close, self.n, self.ddof)
        upper = middle + self.k * std
        lower = middle - self.k * std
        with np.errstate(divide="ignore", invalid="ignore"):
            width = np.where(middle == 0, np.nan, 100 * (upper - lower) / middle)
        return {
            "middle": middle,
            "upper": upper,
            "lower": lower,
            "width": width,
            "width_abs": upper - lower,
        }


class BollingerUpdater:
    __slots__ = ("_ema", "_spec", "_window")

    def __init__(self, spec: Bollinger) -> None:
        self._spec = spec
        self._window = ExactWindow(spec.n)
        self._ema = (
            Ewm(com_from_span(spec.n), adjust=True, min_periods=spec.n)
            if spec.middle == "ema"
            else None
        )

    def update(self, high: float, low: float, close: float, volume: float) -> BollingerValue:
        self._window.push(close)
        middle = self._window.mean() if self._ema is None else self._ema.update(close)
        if not self._window.full:
            return BollingerValue(NAN, NAN, NAN, NAN, NAN)
        std = self._window.std(self._spec.ddof)
        upper = middle + self._spec.k * std
        lower = middle - self._spec.k * std
        width = NAN if middle == 0 else 100 * (upper - lower) / middle
        return BollingerValue(middle, upper, lower, width, upper - lower)
