"""Average Directional Index with +DI and -DI, in ta's Wilder form or the course's EWM form."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal, NamedTuple

import numpy as np

from bot.strategy.indicators.atr import bar_true_range
from bot.strategy.indicators.common import NAN, SpecBase, check_int
from bot.strategy.indicators.vectorized import ewm_mean, seeded_wilder, true_range
from bot.strategy.indicators.windows import Ewm, SeededWilder, com_from_span


class ADXValue(NamedTuple):
    adx: float
    plus_di: float
    minus_di: float


@dataclass(frozen=True, slots=True)
class ADX(SpecBase):
    """Wilder's DMI. From bar 1: true range, +DM = up-move if it is positive and larger than
    the down-move (else 0), -DM likewise.

    ``method="ta"`` (ta's ``ADXIndicator``): each is Wilder-smoothed, seeded with the sum of
    bars 1..n; +DI = 100 * +DM_s / TR_s (0 if TR_s is 0), defined from bar n.
    DX = 100 * |+DI - -DI| / (+DI + -DI) (0 if both are 0); ADX is DX Wilder-smoothed, seeded
    with the mean of DX over bars n..2n-1, so defined from bar 2n-1. ta itself reports 0 (not
    NaN) during warm-up and, by an off-by-one, 0 for +DI/-DI at bar n; every later value matches.

    ``method="course"`` (the course's ``adx(DF, n=20)``): TR, +DM and -DM each
    ``ewm(span=n, min_periods=n).mean()`` (pandas' default ``adjust=True``), the same for DX
    into ADX. As in the course's code, bar 0 has no true range (skipped by the ewm) but a
    +DM and -DM of 0 (which the ewm counts), and a 0 / 0 gives NaN (+DI, -DI while every true
    range so far is 0; DX while both DIs are 0) instead of ta's 0. +DI from bar n, ADX from
    bar 2n-1. The course calls it with n=20: ``ADX(20, "course")``."""

    n: int = 14
    method: Literal["ta", "course"] = "ta"
    _OUTPUTS = ADXValue._fields
    _VALUE = ADXValue

    def __post_init__(self) -> None:
        check_int("ADX n", self.n)
        if self.method not in ("ta", "course"):
            raise ValueError(f'ADX method must be "ta" or "course", got {self.method!r}')

    @property
    def name(self) -> str:
        return f"ADX({self.n})" if self.method == "ta" else f"ADX({self.n},course)"

    @property
    def warmup(self) -> int:
        return 2 * self.n

    def incremental(self) -> ADXUpdater | CourseADXUpdater:
        return ADXUpdater(self.n) if self.method == "ta" else CourseADXUpdater(self.n)

    def _compute(
        self, high: np.ndarray, low: np.ndarray, close: np.ndarray
    ) -> dict[str, np.ndarray]:
        n = self.n
        tr = true_range(high, low, close, first=NAN)
        up = np.diff(high, prepend=np.nan)
        down = -np.diff(low, prepend=np.nan)
        # bar 0's moves are NaN, so both comparisons are False there: a 0, as in the course
        plus_dm = np.where((up > down) & (up > 0), up, 0.0)
        minus_dm = np.where((down > up) & (down > 0), down, 0.0)
        if self.method == "course":
            return _course_adx(tr, plus_dm, minus_dm, n)
        tr_s = seeded_wilder(tr, n, start=1)
        plus_s = seeded_wilder(plus_dm, n, start=1)
        minus_s = seeded_wilder(minus_dm, n, start=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            plus_di = np.where(tr_s == 0, 0.0, 100 * (plus_s / tr_s))
            minus_di = np.where(tr_s == 0, 0.0, 100 * (minus_s / tr_s))
            total = plus_di + minus_di
            dx = np.where(total == 0, 0.0, 100 * np.abs((plus_di - minus_di) / total))
        return {"adx": seeded_wilder(dx, n, start=n), "plus_di": plus_di, "minus_di": minus_di}


def _course_adx(
    tr: np.ndarray, plus_dm: np.ndarray, minus_dm: np.ndarray, n: int
) -> dict[str, np.ndarray]:
    def ema(x: np.ndarray) -> np.ndarray:
        return ewm_mean(x, com_from_span(n), min_periods=n, adjust=True)

    tr_s = ema(tr)
    with np.errstate(divide="ignore", invalid="ignore"):  # 0 / 0 is NaN, as in the course
        plus_di = 100 * (ema(plus_dm) / tr_s)
        minus_di = 100 * (ema(minus_dm) / tr_s)
        dx = 100 * (np.abs(plus_di - minus_di) / (plus_di + minus_di))
    return {"adx": ema(dx), "plus_di": plus_di, "minus_di": minus_di}


def directional_index(plus_s: float, minus_s: float, tr_s: float) -> tuple[float, float, float]:
    """(+DI, -DI, DX) from the smoothed +DM, -DM and true range, with ta's zero rules."""
    plus_di = 0.0 if tr_s == 0 else 100 * (plus_s / tr_s)
    minus_di = 0.0 if tr_s == 0 else 100 * (minus_s / tr_s)
    total = plus_di + minus_di
    dx = 0.0 if total == 0 else 100 * abs((plus_di - minus_di) / total)
    return plus_di, minus_di, dx


def directional_moves(
    high: float, low: float, prev_high: float, prev_low: float
) -> tuple[float, float]:
    """(+DM, -DM) of one bar against the previous one."""
    up = high - prev_high
    down = prev_low - low
    return (up if up > down and up > 0 else 0.0), (down if down > up and down > 0 else 0.0)


class ADXUpdater:
    __slots__ = ("_adx", "_minus", "_plus", "_prev", "_tr")

    def __init__(self, n: int) -> None:
        self._prev: tuple[float, float, float] | None = None  # previous high, low, close
        self._tr = SeededWilder(n)
        self._plus = SeededWilder(n)
        self._minus = SeededWilder(n)
        self._adx = SeededWilder(n)

    def update(self, high: float, low: float, close: float, volume: float) -> ADXValue:
        prev, self._prev = self._prev, (high, low, close)
        if prev is None:
            return ADXValue(NAN, NAN, NAN)
        prev_high, prev_low, prev_close = prev
        plus_dm, minus_dm = directional_moves(high, low, prev_high, prev_low)
        tr_s = self._tr.update(bar_true_range(high, low, prev_close))
        plus_s = self._plus.update(plus_dm)
        minus_s = self._minus.update(minus_dm)
        if math.isnan(tr_s):
            return ADXValue(NAN, NAN, NAN)
        plus_di, minus_di, dx = directional_index(plus_s, minus_s, tr_s)
        return ADXValue(self._adx.update(dx), plus_di, minus_di)


def _ratio(num: float, den: float) -> float:
    """100 * (num / den) with numpy's rules for a zero denominator (0 / 0 NaN, x / 0 inf)."""
    if den == 0:
        return NAN if num == 0 or num != num else math.copysign(math.inf, num)
    return 100 * (num / den)


class CourseADXUpdater:
    __slots__ = ("_adx", "_minus", "_plus", "_prev", "_tr")

    def __init__(self, n: int) -> None:
        self._prev: tuple[float, float, float] | None = None  # previous high, low, close
        com = com_from_span(n)
        self._tr, self._plus, self._minus, self._adx = (
            Ewm(com, adjust=True, min_periods=n) for _ in range(4)
        )

    def update(self, high: float, low: float, close: float, volume: float) -> ADXValue:
        prev, self._prev = self._prev, (high, low, close)
        if prev is None:  # no true range yet, but the course counts a 0 +DM and -DM
            tr, plus_dm, minus_dm = NAN, 0.0, 0.0
        else:
            tr = bar_true_range(high, low, prev[2])
            plus_dm, minus_dm = directional_moves(high, low, prev[0], prev[1])
        tr_s = self._tr.update(tr)
        plus_di = _ratio(self._plus.update(plus_dm), tr_s)
        minus_di = _ratio(self._minus.update(minus_dm), tr_s)
        dx = _ratio(abs(plus_di - minus_di), plus_di + minus_di)
        return ADXValue(self._adx.update(dx), plus_di, minus_di)
