"""MACD: the gap between a fast and a slow EMA of the close, and its signal line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from bot.indicators.common import NAN, SpecBase, check_int
from bot.indicators.vectorized import ewm_mean
from bot.indicators.windows import Ewm, com_from_span


class MACDValue(NamedTuple):
    macd: float
    signal: float
    hist: float


@dataclass(frozen=True, slots=True)
class MACD(SpecBase):
    """macd = EMA(fast) - EMA(slow); signal = EMA(signal) of macd; hist = macd - signal.

    Every EMA is ``ewm(span, adjust=False, min_periods=span)``, so macd is NaN for the first
    ``slow - 1`` bars and signal for ``slow + signal - 2`` (ta's ``MACD``, the course's MACD)."""

    fast: int = 12
    slow: int = 26
    signal: int = 9
    _OUTPUTS = MACDValue._fields
    _VALUE = MACDValue

    def __post_init__(self) -> None:
        check_int("MACD fast", self.fast)
        check_int("MACD slow", self.slow)
        check_int("MACD signal", self.signal)

    @property
    def name(self) -> str:
        return f"MACD({self.fast},{self.slow},{self.signal})"

    @property
    def warmup(self) -> int:
        return max(self.fast, self.slow) + self.signal - 1

    def incremental(self) -> MACDUpdater:
        return MACDUpdater(self)

    def _compute(
        self, high: np.ndarray, low: np.ndarray, close: np.ndarray
    ) -> dict[str, np.ndarray]:
        fast = ewm_mean(close, com_from_span(self.fast), min_periods=self.fast)
        slow = ewm_mean(close, com_from_span(self.slow), min_periods=self.slow)
        macd = fast - slow
        signal = ewm_mean(macd, com_from_span(self.signal), min_periods=self.signal)
        return {"macd": macd, "signal": signal, "hist": macd - signal}


class MACDUpdater:
    __slots__ = ("_fast", "_signal", "_slow", "_spec")

    def __init__(self, spec: MACD) -> None:
        self._spec = spec
        self._fast = Ewm(com_from_span(spec.fast))
        self._slow = Ewm(com_from_span(spec.slow))
        self._signal = Ewm(com_from_span(spec.signal))

    def update(self, high: float, low: float, close: float, volume: float) -> MACDValue:
        fast = self._fast.update(close)
        slow = self._slow.update(close)
        if self._fast.count < self._spec.fast or self._slow.count < self._spec.slow:
            return MACDValue(NAN, NAN, NAN)
        macd = fast - slow
        # the signal EMA starts at the first defined macd, as pandas skips leading NaNs
        signal = self._signal.update(macd)
        if self._signal.count < self._spec.signal:
            return MACDValue(macd, NAN, NAN)
        return MACDValue(macd, signal, macd - signal)
