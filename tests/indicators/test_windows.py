"""The live building blocks against brute force: exact sums, monotonic extremes, EWM."""

from __future__ import annotations

import math
from fractions import Fraction

import numpy as np
import pandas as pd
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.indicators.windows import Ewm, ExactWindow, RollingExtreme, com_from_span

prices = st.one_of(
    st.floats(-1e6, 1e6, allow_nan=False),
    st.floats(1e-9, 1e-3),
    st.sampled_from([0.0, 0.1, 100.01, 1e15 + 0.5]),
)


@settings(max_examples=200, deadline=None)
@given(values=st.lists(prices, max_size=60), n=st.integers(1, 8), ddof=st.integers(0, 1))
def test_exact_window_is_correctly_rounded(values: list[float], n: int, ddof: int) -> None:
    window = ExactWindow(n)
    for i, x in enumerate(values):
        window.push(x)
        if i < n - 1:
            assert math.isnan(window.mean())
            continue
        exact = [Fraction(v) for v in values[i - n + 1 : i + 1]]
        mean = sum(exact) / n
        assert window.mean() == float(mean)
        if n > ddof:
            var = sum((v - mean) ** 2 for v in exact) / (n - ddof)
            assert window.std(ddof) == math.sqrt(float(var))


def test_exact_window_nan_poisons_only_while_inside() -> None:
    window = ExactWindow(2)
    results = []
    for x in [1.0, math.nan, 3.0, 5.0]:
        window.push(x)
        results.append(window.mean())
    assert math.isnan(results[1]) and math.isnan(results[2]) and results[3] == 4.0


@settings(max_examples=200, deadline=None)
@given(values=st.lists(st.floats(-1e9, 1e9), max_size=80), n=st.integers(1, 10))
def test_rolling_extremes(values: list[float], n: int) -> None:
    highest, lowest = RollingExtreme(n, maximum=True), RollingExtreme(n, maximum=False)
    for i, x in enumerate(values):
        hi, lo = highest.push(x), lowest.push(x)
        if i < n - 1:
            assert math.isnan(hi) and math.isnan(lo)
        else:
            assert (hi, lo) == (max(values[i - n + 1 : i + 1]), min(values[i - n + 1 : i + 1]))


def test_ewm_is_bit_identical_to_pandas() -> None:
    x = 100 + np.cumsum(np.random.default_rng(5).normal(size=5000))
    x[100:140] = x[99]  # a constant stretch: pandas skips the arithmetic there
    for com, adjust in [(com_from_span(12), False), (14.0, False), (14.0, True), (0.0, False)]:
        ewm = Ewm(com, adjust=adjust)
        live = [ewm.update(v) for v in x]
        batch = pd.Series(x).ewm(com=com, adjust=adjust).mean().to_numpy()
        assert np.array_equal(live, batch), (com, adjust)
