"""Live and batch values against ``ta`` 0.11 on long random-walk series.

ta runs fine on pandas 3 (checked with warnings as errors). Where ta reports 0 instead of NaN
during warm-up (ATR, ADX) the comparison starts at our first defined value, and that ta's
warm-up is indeed all zeros is asserted too. The course variants, which ta does not define, are
checked against the course's pandas formulas."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import ta
from indicator_helpers import assert_close, random_ohlc, run_live

from bot.indicators import ADX, ATR, EMA, MACD, RSI, SMA, Bollinger, IndicatorSpec, Stochastic

BARS = 4000


@pytest.fixture(scope="module", params=[(1, 100.0, 0.01, None), (2, 25.0, 0.004, 0.01)])
def bars(request: pytest.FixtureRequest) -> pd.DataFrame:
    seed, price, vol, tick = request.param
    return random_ohlc(seed, BARS, price=price, vol=vol, tick=tick, flat=0.02)


def both(spec: IndicatorSpec, bars: pd.DataFrame) -> list[tuple[str, np.ndarray]]:
    return [("batch", spec.batch(bars).to_numpy()), ("live", run_live(spec, bars))]


def compare(spec: IndicatorSpec, bars: pd.DataFrame, reference: dict[str, pd.Series]) -> None:
    want = np.column_stack([reference[name].to_numpy(dtype=float) for name in spec.outputs])
    for form, got in both(spec, bars):
        assert_close(got, want, f"{spec} {form} vs reference")


def test_sma_ema(bars: pd.DataFrame) -> None:
    for n in (1, 5, 20, 200):
        compare(SMA(n), bars, {"sma": ta.trend.SMAIndicator(bars.close, n).sma_indicator()})
        compare(EMA(n), bars, {"ema": ta.trend.EMAIndicator(bars.close, n).ema_indicator()})


@pytest.mark.parametrize("params", [(12, 26, 9), (5, 35, 5), (3, 10, 16)])
def test_macd(bars: pd.DataFrame, params: tuple[int, int, int]) -> None:
    fast, slow, signal = params
    ind = ta.trend.MACD(bars.close, window_slow=slow, window_fast=fast, window_sign=signal)
    reference = {"macd": ind.macd(), "signal": ind.macd_signal(), "hist": ind.macd_diff()}
    compare(MACD(fast, slow, signal), bars, reference)


@pytest.mark.parametrize(("n", "k"), [(20, 2.0), (10, 1.5), (50, 3)])
def test_bollinger_sma(bars: pd.DataFrame, n: int, k: float) -> None:
    ind = ta.volatility.BollingerBands(bars.close, window=n, window_dev=k)
    reference = {
        "middle": ind.bollinger_mavg(),
        "upper": ind.bollinger_hband(),
        "lower": ind.bollinger_lband(),
        "width": ind.bollinger_wband(),
    }
    compare(Bollinger(n, k), bars, reference)


def test_bollinger_ema_is_the_course_formula(bars: pd.DataFrame) -> None:
    middle = bars.close.ewm(span=20, min_periods=20, adjust=False).mean()
    std = bars.close.rolling(20).std(ddof=0)
    upper, lower = middle + 2 * std, middle - 2 * std
    reference = {
        "middle": middle,
        "upper": upper,
        "lower": lower,
        "width": 100 * (upper - lower) / middle,
    }
    compare(Bollinger(20, 2.0, "ema"), bars, reference)


@pytest.mark.parametrize("n", [1, 14, 60])
def test_atr_wilder(bars: pd.DataFrame, n: int) -> None:
    atr = ta.volatility.AverageTrueRange(bars.high, bars.low, bars.close, n).average_true_range()
    assert (atr.iloc[: n - 1] == 0).all()  # ta's warm-up is 0, ours NaN
    compare(ATR(n), bars, {"atr": atr.where(np.arange(len(atr)) >= n - 1)})


@pytest.mark.parametrize("n", [1, 14, 60])
def test_atr_course_formula(bars: pd.DataFrame, n: int) -> None:
    prev = bars.close.shift(1)
    parts = pd.DataFrame(
        {"hl": bars.high - bars.low, "hc": (bars.high - prev).abs(), "lc": (bars.low - prev).abs()}
    )
    tr = parts.max(axis=1, skipna=False)
    compare(ATR(n, "course"), bars, {"atr": tr.ewm(com=n, min_periods=n, adjust=False).mean()})


@pytest.mark.parametrize("n", [2, 14, 30])
def test_rsi(bars: pd.DataFrame, n: int) -> None:
    compare(RSI(n), bars, {"rsi": ta.momentum.RSIIndicator(bars.close, n).rsi()})


@pytest.mark.parametrize("n", [2, 14, 30])
def test_adx(bars: pd.DataFrame, n: int) -> None:
    ind = ta.trend.ADXIndicator(bars.high, bars.low, bars.close, n)
    adx, plus, minus = ind.adx(), ind.adx_pos(), ind.adx_neg()
    assert (adx.iloc[: 2 * n - 1] == 0).all()
    assert (plus.iloc[: n + 1] == 0).all() and (minus.iloc[: n + 1] == 0).all()
    for form, got in both(ADX(n), bars):
        assert_close(got[2 * n - 1 :, 0], adx.iloc[2 * n - 1 :], f"ADX({n}) {form} adx")
        # ta's DIs start one bar late (an off-by-one leaves bar n at 0)
        assert_close(got[n + 1 :, 1], plus.iloc[n + 1 :], f"ADX({n}) {form} +DI")
        assert_close(got[n + 1 :, 2], minus.iloc[n + 1 :], f"ADX({n}) {form} -DI")
        assert np.isnan(got[: 2 * n - 1, 0]).all() and not np.isnan(got[n:, 1:]).any()


@pytest.mark.parametrize(("n", "smooth"), [(14, 3), (20, 3), (5, 1)])
def test_stochastic(bars: pd.DataFrame, n: int, smooth: int) -> None:
    ind = ta.momentum.StochasticOscillator(bars.high, bars.low, bars.close, n, smooth)
    compare(Stochastic(n, smooth), bars, {"k": ind.stoch(), "d": ind.stoch_signal()})
