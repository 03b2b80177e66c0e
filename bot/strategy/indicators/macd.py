"""MACD: the gap between a fast and a slow EMA of the close, and its signal line."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from bot.strategy.indicators.common import SpecBase, check_int
from bot.strategy.indicators.vectorized import ewm_mean
from bot.strategy.indicators.windows import Ewm, com_from_span


class MACDValue(NamedTuple):
    macd: float
    signal: float
    hist: float


@dataclass(frozen=True, slots=True)
class MACD(SpecBase):
    """macd = EMA(fast) - EMA(slow); signal = EMA(signal) of macd; hist = macd - signal.

    Every EMA is ``ewm(span, min_periods=span)``, so macd is NaN for the first
    ``max(fast, slow) - 1`` bars and signal for ``signal - 1`` more; the signal EMA starts at
    the first defined macd (pandas skips leading NaNs).

    ``source="ta"``: ``adjust=False`` EMAs, seeded with the first close (ta's ``MACD``).
    ``source="course"``: the course's literal pandas code, ``adjust=True`` (pandas' default):
    each EMA is the (1 - alpha)^age weighted mean of every value so far."""

    fast: int = 12
    slow: int = 26
    signal: int = 9
    source: Literal["ta", "course"] = "ta"
    _OUTPUTS = MACDValue._fields
    _VALUE = MACDValue

    def __post_init__(self) -> None:
        check_int("MACD fast", self.fast)
        check_int("MACD slow", self.slow)
        check_int("MACD signal", self.signal)
        if self.source not in ("ta", "course"):
            raise ValueError(f'MACD source must be "ta" or "course", got {self.source!r}')

    @property
    def name(self) -> str:
        course = ",course" if self.source == "course" else ""
        return f"MACD({self.fast},{self.slow},{self.signal}{course})"

    @property
    def warmup(self) -> int:
        return max(self.fast, self.slow) + self.signal - 1

    def incremental(self) -> MACDUpdater:
        return MACDUpdater(self)

    def _compute(
        self, high: np.ndarray, low: np.ndarray, close: np.ndarray
    ) -> dict[str, np.ndarray]:
        adjust = self.source == "course"

        def ema(x: np.ndarray, span: int) -> np.ndarray:
            return ewm_mean(x, com_from_span(span), min_periods=span, adjust=adjust)

        macd = ema(close, self.fast) - ema(close, self.slow)
        signal = ema(macd, self.signal)
        return {"macd": macd, "signal": signal, "hist": macd - signal}


class MACDUpdater:
    __slots__ = ("_fast", "_signal", "_slow")

    def __init__(self, spec: MACD) -> None:
        adjust = spec.source == "course"
        self._fast = Ewm(com_from_span(spec.fast), adjust=adjust, min_periods=spec.fast)
        self._slow = Ewm(com_from_span(spec.slow), adjust=adjust, min_periods=spec.slow)
        self._signal = Ewm(com_from_span(spec.signal), adjust=adjust, min_periods=spec.signal)

    def update(self, high: float, low: float, close: float, volume: float) -> MACDValue:
        macd = self._fast.update(close) - self._slow.update(close)
        # NaN while warming up: the signal EMA skips those, as pandas skips leading NaNs
        signal = self._signal.update(macd)
        return MACDValue(macd, signal, macd - signal)
