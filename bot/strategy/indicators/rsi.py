"""Relative Strength Index, in ta's form or the IB API course's (Wilder's textbook) form."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

import numpy as np

from bot.strategy.indicators.common import NAN, SpecBase, check_int
from bot.strategy.indicators.vectorized import ewm_mean, seeded_wilder
from bot.strategy.indicators.windows import Ewm, SeededWilder, com_from_alpha


@dataclass(frozen=True, slots=True)
class RSI(SpecBase):
    """RSI = 100 - 100 / (1 + avg_gain / avg_loss) of the close-to-close changes.

    ``method="ta"`` (ta's ``RSIIndicator``): both averages ``ewm(alpha=1/n, adjust=False)``;
    bar 0 counts as a zero gain and loss, so the first value is at bar n-1 (from n-1 price
    changes); 100 when avg_loss is 0.

    ``method="course"`` (the course's ``rsi(DF, n=20)``, Wilder's own definition): the
    averages start at bar n as the plain mean of the gains (losses) of bars 1..n, then
    avg = ((n-1) * avg + gain) / n; the first value is at bar n. As in the course's numpy
    arithmetic, RSI is 100 when avg_loss is 0 and avg_gain is not, and NaN when both are 0 (no
    change in n bars). The course calls it with n=20: ``RSI(20, "course")``."""

    n: int = 14
    method: Literal["ta", "course"] = "ta"
    _OUTPUTS = ("rsi",)

    def __post_init__(self) -> None:
        check_int("RSI n", self.n)
        if self.method not in ("ta", "course"):
            raise ValueError(f'RSI method must be "ta" or "course", got {self.method!r}')

    @property
    def name(self) -> str:
        return f"RSI({self.n})" if self.method == "ta" else f"RSI({self.n},course)"

    @property
    def warmup(self) -> int:
        return self.n if self.method == "ta" else self.n + 1

    def incremental(self) -> RSIUpdater | CourseRSIUpdater:
        return RSIUpdater(self.n) if self.method == "ta" else CourseRSIUpdater(self.n)

    def _compute(
        self, high: np.ndarray, low: np.ndarray, close: np.ndarray
    ) -> dict[str, np.ndarray]:
        diff = np.diff(close, prepend=np.nan)
        up = np.where(diff > 0, diff, 0.0)
        down = -np.where(diff < 0, diff, 0.0)
        if self.method == "ta":
            com = com_from_alpha(1.0 / self.n)
            avg_up = ewm_mean(up, com, min_periods=self.n)
            avg_down = ewm_mean(down, com, min_periods=self.n)
            with np.errstate(divide="ignore", invalid="ignore"):
                rsi = np.where(avg_down == 0, 100.0, 100 - 100 / (1 + avg_up / avg_down))
            return {"rsi": rsi}
        avg_up = seeded_wilder(up, self.n, start=1)
        avg_down = seeded_wilder(down, self.n, start=1)
        with np.errstate(divide="ignore", invalid="ignore"):  # x / 0 = inf, 0 / 0 = NaN
            return {"rsi": 100 - 100 / (1 + avg_up / avg_down)}


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


class CourseRSIUpdater:
    __slots__ = ("_down", "_prev", "_up")

    def __init__(self, n: int) -> None:
        self._prev = NAN
        self._up = SeededWilder(n)
        self._down = SeededWilder(n)

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        diff = close - self._prev
        self._prev = close
        if diff != diff:  # bar 0: the averages start with bar 1's change
            return NAN
        up = self._up.update(diff if diff > 0 else 0.0)
        down = self._down.update(-diff if diff < 0 else 0.0)
        # numpy's division, as the course's: x / 0 is inf (RSI 100), 0 / 0 is NaN
        if down == 0:
            return 100.0 if up > 0 else NAN
        return 100 - 100 / (1 + up / down)  # NaN while warming up
