"""Live building blocks, each O(1) per bar: pandas-exact EWM steps (adjust=False or True),
exact rolling sums, and rolling min/max over monotonic deques."""

from __future__ import annotations

import math
from collections import deque

NAN = float("nan")


def com_from_span(span: float) -> float:
    """pandas' conversion, kept literally so live and pandas agree to the last bit."""
    return (span - 1) / 2


def com_from_alpha(alpha: float) -> float:
    return (1 - alpha) / alpha


class Ewm:
    """``Series.ewm(com=com, adjust=adjust, min_periods=min_periods).mean()`` one value at a time.

    ``adjust=False``: y_t = (1 - a) y_{t-1} + a x_t, seeded with the first observation.
    ``adjust=True`` (pandas' default, the course's EMAs): the weighted mean of every observation
    so far, weights (1 - a)^age, i.e. s_t = x_t + (1 - a) s_{t-1}, w_t = 1 + (1 - a) w_{t-1},
    y_t = s_t / w_t; held here as pandas holds it, y_t = (old_wt y_{t-1} + x_t) / (old_wt + 1)
    with old_wt = (1 - a) w_{t-1}, so the state stays O(1) and bounded (w_t < 1 / a).

    The float operations are the ones pandas' kernel (``_libs/window/aggregations.pyx``,
    ``ewm``) performs, in the same order, so the live value equals the vectorized one bit for
    bit. NaN inputs follow pandas (``ignore_na=False``): leading NaNs are skipped (the mean
    starts at the first observation); a NaN after that leaves the mean unchanged but still ages
    the weights, as a missing row does in pandas. ``count`` is the number of observations;
    ``update`` returns NaN until it reaches ``min_periods``.
    """

    __slots__ = ("_adjust", "_factor", "_min_periods", "_new_wt", "_old_wt", "count", "value")

    def __init__(self, com: float, *, adjust: bool = False, min_periods: int = 0) -> None:
        alpha = 1.0 / (1.0 + com)
        self._adjust = adjust
        self._factor = 1.0 - alpha
        self._new_wt = 1.0 if adjust else alpha
        self._old_wt = 1.0
        self._min_periods = min_periods
        self.count = 0
        self.value = NAN

    def update(self, x: float) -> float:
        value = self.value
        if x == x:  # an observation
            self.count += 1
            if value == value:
                self._old_wt *= self._factor
                if value != x:  # pandas skips the arithmetic on equal values (exact constants)
                    self.value = (self._old_wt * value + self._new_wt * x) / (
                        self._old_wt + self._new_wt
                    )
                self._old_wt = self._old_wt + self._new_wt if self._adjust else 1.0
            else:
                self.value = x
        elif value == value:  # a gap: the mean stands, its weight decays
            self._old_wt *= self._factor
        return self.value if self.count >= self._min_periods else NAN


class SeededWilder:
    """Wilder smoothing seeded with the plain mean of the first ``n`` inputs (ta's ATR and ADX).

    After the seed it is ``ewm(alpha=1/n, adjust=False)`` continuing from that mean.
    """

    __slots__ = ("_ewm", "_n", "_seed")

    def __init__(self, n: int) -> None:
        self._n = n
        self._seed: list[float] = []
        self._ewm = Ewm(com_from_alpha(1.0 / n))

    def update(self, x: float) -> float:
        if len(self._seed) < self._n:
            self._seed.append(x)
            if len(self._seed) < self._n:
                return NAN
            # fsum: the same correctly rounded seed as the vectorized path, whatever the order
            return self._ewm.update(math.fsum(self._seed) / self._n)
        return self._ewm.update(x)


class ExactWindow:
    """Sum (and sum of squares) of the last ``n`` values, held exactly as scaled integers.

    A float is a dyadic rational, so ``x * 2**scale`` is an integer once ``scale`` covers its
    fractional bits; sums of those integers never drift, and the mean and variance are then
    rounded once. NaN inputs are counted: any NaN in the window makes the results NaN.
    """

    __slots__ = ("_n", "_nans", "_s1", "_s2", "_scale", "_window")

    def __init__(self, n: int) -> None:
        self._n = n
        self._window: deque[int | None] = deque()
        self._scale = 0
        self._s1 = 0
        self._s2 = 0
        self._nans = 0

    @property
    def full(self) -> bool:
        return len(self._window) == self._n

    def push(self, x: float) -> None:
        if len(self._window) == self._n:
            self._remove(self._window.popleft())
        if math.isnan(x):
            self._nans += 1
            self._window.append(None)
            return
        num, den = x.as_integer_ratio()
        bits = den.bit_length() - 1
        if bits > self._scale:
            self._rescale(bits)
        v = num << (self._scale - bits)
        self._window.append(v)
        self._s1 += v
        self._s2 += v * v

    def _remove(self, v: int | None) -> None:
        if v is None:
            self._nans -= 1
        else:
            self._s1 -= v
            self._s2 -= v * v

    def _rescale(self, scale: int) -> None:
        """Rare (a value with more fractional bits than any before): shift everything up."""
        shift = scale - self._scale
        self._window = deque(None if v is None else v << shift for v in self._window)
        self._s1 <<= shift
        self._s2 <<= 2 * shift
        self._scale = scale

    def mean(self) -> float:
        if not self.full or self._nans:
            return NAN
        return self._s1 / (self._n << self._scale)  # int / int is correctly rounded

    def std(self, ddof: int = 0) -> float:
        """Population (ddof=0) or sample (ddof=1) standard deviation of the window."""
        if not self.full or self._nans:
            return NAN
        n = self._n
        # n * sum(x^2) - sum(x)^2 is exact and >= 0 (Cauchy-Schwarz), so no cancellation.
        num = n * self._s2 - self._s1 * self._s1
        return math.sqrt(num / ((n * (n - ddof)) << (2 * self._scale)))


class RollingExtreme:
    """Max (or min) of the last ``n`` values: a monotonic deque, amortized O(1) per value."""

    __slots__ = ("_i", "_n", "_q", "_sign")

    def __init__(self, n: int, *, maximum: bool) -> None:
        self._n = n
        self._sign = 1.0 if maximum else -1.0
        self._q: deque[tuple[int, float]] = deque()
        self._i = -1

    def push(self, x: float) -> float:
        """Add ``x``; return the extreme of the last ``n`` values (NaN until ``n`` seen)."""
        self._i += 1
        key = self._sign * x
        q = self._q
        while q and q[-1][1] <= key:  # dominated values can never be the extreme again
            q.pop()
        q.append((self._i, key))
        if q[0][0] <= self._i - self._n:
            q.popleft()
        if self._i < self._n - 1:
            return NAN
        return self._sign * q[0][1]
