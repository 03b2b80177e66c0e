"""Average Directional Index with +DI and -DI (ta's ``ADXIndicator``)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np

from bot.indicators.atr import bar_true_range
from bot.indicators.common import NAN, SpecBase, check_int
from bot.indicators.vectorized import seeded_wilder, true_range
from bot.indicators.windows import SeededWilder


class ADXValue(NamedTuple):
    adx: float
    plus_di: float
    minus_di: float


@dataclass(frozen=True, slots=True)
class ADX(SpecBase):
    """Wilder's DMI as ta computes it. From bar 1: true range, +DM = up-move if it is positive
    and larger than the down-move (else 0), -DM likewise. Each is Wilder-smoothed, seeded with
    the sum of bars 1..n; +DI = 100 * +DM_s / TR_s (0 if TR_s is 0), defined from bar n.
    DX = 100 * |+DI - -DI| / (+DI + -DI) (0 if both are 0); ADX is DX Wilder-smoothed, seeded
    with the mean of DX over bars n..2n-1, so defined from bar 2n-1.

    ta itself reports 0 (not NaN) during warm-up and, by an off-by-one, 0 for +DI/-DI at bar n;
    every later value matches."""

    n: int = 14
    _OUTPUTS = ADXValue._fields
    _VALUE = ADXValue

    def __post_init__(self) -> None:
        check_int("ADX n", self.n)

    @property
    def name(self) -> str:
        return f"ADX({self.n})"

    @property
    def warmup(self) -> int:
        return 2 * self.n

    def incremental(self) -> ADXUpdater:
        return ADXUpdater(self.n)

    def _compute(
        self, high: np.ndarray, low: np.ndarray, close: np.ndarray
    ) -> dict[str, np.ndarray]:
        n = self.n
        tr = true_range(high, low, close, first=NAN)
        up = np.diff(high, prepend=np.nan)
        down = -np.diff(low, prepend=np.nan)
        plus_dm = np.where((up > down) & (up > 0), up, 0.0)
        minus_dm = np.where((down > up) & (down > 0), down, 0.0)
        tr_s = seeded_wilder(tr, n, start=1)
        plus_s = seeded_wilder(plus_dm, n, start=1)
        minus_s = seeded_wilder(minus_dm, n, start=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            plus_di = np.where(tr_s == 0, 0.0, 100 * (plus_s / tr_s))
            minus_di = np.where(tr_s == 0, 0.0, 100 * (minus_s / tr_s))
            total = plus_di + minus_di
            dx = np.where(total == 0, 0.0, 100 * np.abs((plus_di - minus_di) / total))
        return {"adx": seeded_wilder(dx, n, start=n), "plus_di": plus_di, "minus_di": minus_di}


def directional_index(plus_s: float, minus_s: float, tr_s: float) -> tuple[float, float, float]:
    """(+DI, -DI, DX) from the smoothed +DM, -DM and true range, with ta's zero rules."""
    plus_di = 0.0 if tr_s == 0 else 100 * (plus_s / tr_s)
    minus_di = 0.0 if tr_s == 0 else 100 * (minus_s / tr_s)
    total = plus_di + minus_di
    dx = 0.0 if total == 0 else 100 * abs((plus_di - minus_di) / total)
    return plus_di, minus_di, dx


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
        up = high - prev_high
        down = prev_low - low
        tr_s = self._tr.update(bar_true_range(high, low, prev_close))
        plus_s = self._plus.update(up if up > down and up > 0 else 0.0)
        minus_s = self._minus.update(down if down > up and down > 0 else 0.0)
        if math.isnan(tr_s):
            return ADXValue(NAN, NAN, NAN)
        plus_di, minus_di, dx = directional_index(plus_s, minus_s, tr_s)
        return ADXValue(self._adx.update(dx), plus_di, minus_di)
