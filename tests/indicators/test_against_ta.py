"""Live and batch values against ``ta`` 0.11 on long random-walk series.

ta runs fine on pandas 3 (checked with warnings as errors). Where ta reports 0 instead of NaN
during warm-up (ATR, ADX) the comparison starts at our first defined value, and that ta's
warm-up is indeed all zeros is asserted too. The course variants, which ta does not define, are
checked against the course's literal pandas code (pandas' default ewm, adjust=True)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import ta
from indicator_helpers import assert_close, random_ohlc, run_live

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
        "width_abs": ind.bollinger_hband() - ind.bollinger_lband(),
    }
    compare(Bollinger(n, k), bars, reference)


@pytest.mark.parametrize("n", [1, 14, 60])
def test_atr_wilder(bars: pd.DataFrame, n: int) -> None:
    atr = ta.volatility.AverageTrueRange(bars.high, bars.low, bars.close, n).average_true_range()
    assert (atr.iloc[: n - 1] == 0).all()  # ta's warm-up is 0, ours NaN
    compare(ATR(n), bars, {"atr": atr.where(np.arange(len(atr)) >= n - 1)})


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


# The course's code, verbatim but for names and parameters: pandas' default ewm (adjust=True).


def course_macd(DF: pd.DataFrame, a: int, b: int, c: int) -> pd.DataFrame:
    df = DF.copy()
    df["ma_fast"] = df["close"].ewm(span=a, min_periods=a).mean()
    df["ma_slow"] = df["close"].ewm(span=b, min_periods=b).mean()
    df["macd"] = df["ma_fast"] - df["ma_slow"]
    df["signal"] = df["macd"].ewm(span=c, min_periods=c).mean()
    return df


def course_bollinger(DF: pd.DataFrame, n: int, k: float) -> pd.DataFrame:
    df = DF.copy()
    df["MB"] = df["close"].ewm(span=n, min_periods=n).mean()
    df["UB"] = df["MB"] + k * df["close"].rolling(n).std(ddof=0)
    df["LB"] = df["MB"] - k * df["close"].rolling(n).std(ddof=0)
    df["BB_width"] = df["UB"] - df["LB"]
    return df


def course_atr(DF: pd.DataFrame, n: int) -> pd.Series:
    df = DF.copy()
    df["H-L"] = df["high"] - df["low"]
    df["H-PC"] = abs(df["high"] - df["close"].shift(1))
    df["L-PC"] = abs(df["low"] - df["close"].shift(1))
    df["TR"] = df[["H-L", "H-PC", "L-PC"]].max(axis=1, skipna=False)
    df["ATR"] = df["TR"].ewm(com=n, min_periods=n).mean()
    return df["ATR"]


@pytest.mark.parametrize("params", [(12, 26, 9), (5, 35, 5), (3, 10, 16)])
def test_macd_course_is_the_course_code(bars: pd.DataFrame, params: tuple[int, int, int]) -> None:
    df = course_macd(bars, *params)
    reference = {"macd": df.macd, "signal": df.signal, "hist": df.macd - df.signal}
    compare(MACD(*params, "course"), bars, reference)
    # and it is not ta's: the adjusted EMAs differ most early on, where little history weighs
    ta_macd = MACD(*params).batch(bars).macd.to_numpy()
    assert not np.allclose(df.macd.to_numpy()[:200], ta_macd[:200], equal_nan=True)


@pytest.mark.parametrize(("n", "k"), [(20, 2.0), (10, 1.5), (50, 3)])
def test_bollinger_ema_is_the_course_code(bars: pd.DataFrame, n: int, k: float) -> None:
    df = course_bollinger(bars, n, k)
    width = 100 * (df.UB - df.LB) / df.MB
    reference = {
        "middle": df.MB,
        "upper": df.UB,
        "lower": df.LB,
        "width": width,
        "width_abs": df.BB_width,
    }
    compare(Bollinger(n, k, "ema"), bars, reference)


@pytest.mark.parametrize("n", [1, 14, 60])
def test_atr_course_is_the_course_code(bars: pd.DataFrame, n: int) -> None:
    compare(ATR(n, "course"), bars, {"atr": course_atr(bars, n)})


# The course's RSI, ADX and stochastic %D, written from its rules (Wilder's RSI seeded with a
# plain mean; ewm(span=n) smoothing for the ADX; an ewm(span) %D), as loops and plain pandas.


def course_rsi_reference(close: pd.Series, n: int) -> np.ndarray:
    c = close.to_numpy()
    out = np.full(len(c), np.nan)
    if len(c) <= n:
        return out
    change = np.diff(c)  # change[i - 1] is bar i's
    gains, losses = np.clip(change, 0, None), np.clip(-change, 0, None)
    gain, loss = gains[:n].mean(), losses[:n].mean()  # bars 1..n
    for i in range(n, len(c)):
        if i > n:
            gain = ((n - 1) * gain + gains[i - 1]) / n
            loss = ((n - 1) * loss + losses[i - 1]) / n
        with np.errstate(divide="ignore", invalid="ignore"):
            out[i] = 100 - 100 / (1 + np.float64(gain) / np.float64(loss))
    return out


def course_adx_reference(bars: pd.DataFrame, n: int) -> dict[str, pd.Series]:
    high, low, prev_close = bars.high, bars.low, bars.close.shift()
    moves = [high - low, (high - prev_close).abs(), (low - prev_close).abs()]
    tr = pd.concat(moves, axis=1).max(axis=1, skipna=False)
    up, down = high.diff(), -low.diff()
    plus_dm = up.where((up > down) & (up > 0), 0.0)
    minus_dm = down.where((down > up) & (down > 0), 0.0)

    def smooth(s: pd.Series) -> pd.Series:
        return s.ewm(span=n, min_periods=n).mean()

    plus_di = 100 * smooth(plus_dm) / smooth(tr)
    minus_di = 100 * smooth(minus_dm) / smooth(tr)
    dx = 100 * (plus_di - minus_di).abs() / (plus_di + minus_di)
    return {"adx": smooth(dx), "plus_di": plus_di, "minus_di": minus_di}


@pytest.mark.parametrize("n", [1, 14, 20])
def test_rsi_course_is_the_course_rule(bars: pd.DataFrame, n: int) -> None:
    reference = course_rsi_reference(bars.close, n)
    compare(RSI(n, "course"), bars, {"rsi": pd.Series(reference)})
    if n > 1:  # and it is not ta's, which starts from a zero gain and loss at bar 0
        ta_rsi = RSI(n).batch(bars).rsi.to_numpy()
        assert not np.allclose(reference[n : n + 50], ta_rsi[n : n + 50])


@pytest.mark.parametrize("n", [1, 14, 20])
def test_adx_course_is_the_course_rule(bars: pd.DataFrame, n: int) -> None:
    compare(ADX(n, "course"), bars, course_adx_reference(bars, n))
    if n > 1:  # and it is not Wilder's (for n = 1 both smoothings are the identity)
        wilder = ADX(n).batch(bars).adx.to_numpy()[2 * n :]
        course = ADX(n, "course").batch(bars).adx.to_numpy()[2 * n :]
        assert np.nanmax(np.abs(wilder - course)) > 1


@pytest.mark.parametrize(("n", "smooth"), [(20, 3), (14, 1), (5, 8)])
def test_stochastic_ema_is_the_course_rule(bars: pd.DataFrame, n: int, smooth: int) -> None:
    lowest, highest = bars.low.rolling(n).min(), bars.high.rolling(n).max()
    k = 100 * (bars.close - lowest) / (highest - lowest)
    d = k.ewm(span=smooth, min_periods=smooth).mean()
    compare(Stochastic(n, smooth, "ema"), bars, {"k": k, "d": d})
