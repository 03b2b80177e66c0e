"""Average True Range, in ta's Wilder form or the course's ``ewm(com=n)`` form."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np

from bot.strategy.indicators.common import NAN, SpecBase, check_int
from bot.strategy.indicators.vectorized import ewm_mean, seeded_wilder, true_range
from bot.strategy.indicators.windows import Ewm, SeededWilder


def bar_true_range(high: float, low: float, prev_close: float) -> float:
    return max(high - low, abs(high - prev_close), abs(low - prev_close))


@dataclass(frozen=True, slots=True)
class ATR(SpecBase):
    """``method="wilder"`` (ta's ``AverageTrueRange``): bar 0's true range is H - L; the ATR at
    bar n-1 is the mean of the first n true ranges, then atr = (atr * (n-1) + tr) / n.

    ``method="course"``: the course's literal ``TR.ewm(com=n, min_periods=n).mean()``, pandas'
    default ``adjust=True`` (alpha = 1/(n+1)), with bar 0's true range undefined
    (``max(axis=1, skipna=False)``) and skipped by the ewm; the first value is at bar n."""

    n: int = 14
    method: Literal["wilder", "course"] = "wilder"
    _OUTPUTS = ("atr",)

    def __post_init__(self) -> None:
        check_int("ATR n", self.n)
        if self.method not in ("wilder", "course"):
            raise ValueError(f'ATR method must be "wilder" or "course", got {self.method!r}')

    @property
    def name(self) -> str:
        return f"ATR({self.n})" if self.method == "wilder" else f"ATR({self.n},course)"

    @property
    def warmup(self) -> int:
        return self.n if self.method == "wilder" else self.n + 1

    def incremental(self) -> ATRUpdater:
        return ATRUpdater(self)

    def _compute(
        self, high: np.ndarray, low: np.ndarray, close: np.ndarray
    ) -> dict[str, np.ndarray]:
        if self.method == "wilder":
            tr = true_range(high, low, close, first=float(high[0] - low[0]) if len(high) else NAN)
            return {"atr": seeded_wilder(tr, self.n, start=0)}
        tr = true_range(high, low, close, first=NAN)
        return {"atr": ewm_mean(tr, float(self.n), min_periods=self.n, adjust=True)}


class ATRUpdater:
    __slots__ = ("_course", "_prev_close", "_wilder")

    def __init__(self, spec: ATR) -> None:
        self._prev_close = NAN
        self._wilder = SeededWilder(spec.n) if spec.method == "wilder" else None
        self._course = (
            Ewm(float(spec.n), adjust=True, min_periods=spec.n) if spec.method == "course" else None
        )

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        first = math.isnan(self._prev_close)
        prev, self._prev_close = self._prev_close, close
        if self._wilder is not None:
            return self._wilder.update(high - low if first else bar_true_range(high, low, prev))
        assert self._course is not None
        # the course's TR is NaN on bar 0 (skipna=False), which the ewm skips as pandas does
        return self._course.update(NAN if first else bar_true_range(high, low, prev))
