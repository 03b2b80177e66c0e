"""The live (incremental) and batch paths agree to 1e-9, NaN warm-up included."""

from __future__ import annotations

import numpy as np
import pandas as pd
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from indicator_helpers import ALL_SPECS, assert_close, random_ohlc, run_live

from bot.strategy.indicators import (
    ADX,
    ATR,
    EMA,
    MACD,
    RSI,
    SMA,
    Bollinger,
    IndicatorSpec,
    Stochastic,
)

small = st.integers(1, 40)


@st.composite
def specs(draw: st.DrawFn) -> IndicatorSpec:
    kind = draw(st.sampled_from(["sma", "ema", "macd", "boll", "atr", "rsi", "adx", "stoch"]))
    n = draw(small)
    if kind == "sma":
        return SMA(n)
    if kind == "ema":
        return EMA(n)
    if kind == "macd":
        return MACD(draw(small), draw(small), draw(small), draw(st.sampled_from(["ta", "course"])))
    if kind == "boll":
        k = draw(st.floats(0.0, 4.0))
        ddof = draw(st.integers(0, min(1, n - 1)))
        if draw(st.booleans()):
            return Bollinger(n, k, "ema", ddof=ddof)
        return Bollinger(n, k, "sma", ddof=ddof)
    if kind == "atr":
        return ATR(n, draw(st.sampled_from(["wilder", "course"])))
    if kind == "rsi":
        return RSI(n, draw(st.sampled_from(["ta", "course"])))
    if kind == "adx":
        return ADX(n, draw(st.sampled_from(["ta", "course"])))
    return Stochastic(n, draw(st.integers(1, 5)), draw(st.sampled_from(["sma", "ema"])))


@st.composite
def ohlc(draw: st.DrawFn) -> pd.DataFrame:
    """Random walks from calm to wild, cheap to expensive, with tick grids and flat runs."""
    return random_ohlc(
        draw(st.integers(0, 2**32 - 1)),
        draw(st.integers(0, 600)),
        price=draw(st.sampled_from([0.01, 1.0, 37.5, 100.0, 5000.0])),
        vol=draw(st.sampled_from([0.0, 1e-6, 0.001, 0.02, 0.2])),
        tick=draw(st.sampled_from([None, 0.01, 0.25, 1.0])),
        flat=draw(st.sampled_from([0.0, 0.3, 0.9])),
    )


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=specs(), bars=ohlc())
def test_live_equals_batch(spec: IndicatorSpec, bars: pd.DataFrame) -> None:
    assert_close(run_live(spec, bars), spec.batch(bars).to_numpy(), str(spec))


def test_warm_up_length_matches_warmup() -> None:
    bars = random_ohlc(7, 300)
    for spec in ALL_SPECS:
        values = spec.batch(bars).to_numpy()
        defined = ~np.isnan(values).any(axis=1)
        assert np.flatnonzero(defined)[0] == spec.warmup - 1, spec
        assert defined[spec.warmup - 1 :].all(), spec


def test_no_drift_over_100k_bars() -> None:
    """Running windows must not accumulate rounding: compare at the end of a long series,
    including a final stretch of flat bars where a drifting variance would show most."""
    bars = random_ohlc(11, 100_000, price=50.0, vol=0.003, tick=0.01)
    bars.iloc[-40:, :4] = bars.close.iloc[-41]
    for spec in ALL_SPECS:
        live, batch = run_live(spec, bars), spec.batch(bars).to_numpy()
        assert_close(live, batch, f"{spec} over 100k bars")
    flat = Bollinger(20).incremental()
    for _ in range(20):
        value = flat.update(1.1, 1.1, 1.1, 0.0)
    assert value.upper == value.lower == value.middle and value.width == value.width_abs == 0.0


@st.composite
def course_specs(draw: st.DrawFn) -> IndicatorSpec:
    """The course variants alone, so each gets as many examples as a whole kind above."""
    n = draw(small)
    kind = draw(st.sampled_from(["rsi", "adx", "stoch"]))
    if kind == "rsi":
        return RSI(n, "course")
    if kind == "adx":
        return ADX(n, "course")
    return Stochastic(n, draw(st.integers(1, 5)), "ema")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(spec=course_specs(), bars=ohlc())
def test_course_variants_live_equals_batch(spec: IndicatorSpec, bars: pd.DataFrame) -> None:
    assert_close(run_live(spec, bars), spec.batch(bars).to_numpy(), str(spec))
