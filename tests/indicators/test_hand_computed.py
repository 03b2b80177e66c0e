"""Each indicator, live and batch, against values worked out by hand on a few bars.

Expected values are written as the arithmetic one does on paper (exact fractions where
possible); n is small so the warm-up NaNs are visible too."""

from __future__ import annotations

from collections.abc import Sequence
from math import nan, sqrt

import numpy as np
import pandas as pd
import pytest
from indicator_helpers import assert_close, run_live

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


def frame(high: Sequence[float], low: Sequence[float], close: Sequence[float]) -> pd.DataFrame:
    return pd.DataFrame(
        {"open": close, "high": high, "low": low, "close": close, "volume": [1.0] * len(close)}
    )


def closes(values: Sequence[float]) -> pd.DataFrame:
    return frame(values, values, values)


def check(spec: IndicatorSpec, bars: pd.DataFrame, expected: dict[str, list[float]]) -> None:
    want = np.column_stack([expected[name] for name in spec.outputs])
    assert_close(spec.batch(bars).to_numpy(), want, f"{spec} batch", tol=1e-12)
    assert_close(run_live(spec, bars), want, f"{spec} live", tol=1e-12)


def test_sma() -> None:
    check(SMA(3), closes([1, 2, 3, 4, 6]), {"sma": [nan, nan, 6 / 3, 9 / 3, 13 / 3]})


def test_ema_seeds_with_first_close() -> None:
    # span 3 -> alpha = 2 / (3 + 1) = 1/2; y0 = 2, y = y/2 + x/2
    y1 = 2 / 2 + 4 / 2  # 3
    y2 = y1 / 2 + 8 / 2  # 5.5
    y3 = y2 / 2 + 6 / 2  # 5.75
    y4 = y3 / 2 + 10 / 2  # 7.875
    check(EMA(3), closes([2, 4, 8, 6, 10]), {"ema": [nan, nan, y2, y3, y4]})
    # (the course's adjust=True form of this series is 2, 10/3, 6, 6, 250/31: test_windows)


def test_macd() -> None:
    # MACD(2, 3, 2) on 10, 12, 11, 14, 13
    # fast span 2 (alpha 2/3): 10, 34/3, 100/9, 352/27, 1054/81
    # slow span 3 (alpha 1/2): 10, 11, 11, 25/2, 51/4 -> defined from bar 2
    # macd: bar2 100/9 - 11 = 1/9; bar3 352/27 - 25/2 = 29/54; bar4 1054/81 - 51/4 = 85/324
    # signal span 2 over macd from bar 2: 1/9, (1/9)/3 + (2/3)(29/54) = 32/81,
    #   (32/81)/3 + (2/3)(85/324) = 149/486; min_periods 2 -> defined from bar 3
    check(
        MACD(2, 3, 2),
        closes([10, 12, 11, 14, 13]),
        {
            "macd": [nan, nan, 1 / 9, 29 / 54, 85 / 324],
            "signal": [nan, nan, nan, 32 / 81, 149 / 486],
            "hist": [nan, nan, nan, 29 / 54 - 32 / 81, 85 / 324 - 149 / 486],
        },
    )
    hist3 = 29 / 54 - 32 / 81
    assert hist3 == pytest.approx(23 / 162)


def test_macd_course_uses_adjusted_emas() -> None:
    # MACD(2, 3, 2, course) on 10, 12, 11, 14, 13: adjust=True EMAs, the weighted mean of all
    # closes so far with weight (1 - alpha)^age
    # fast span 2 (alpha 2/3, weights 1, 1/3, 1/9, ...):
    #   bar2 (11 + 12/3 + 10/9) / (13/9) = 145/13; bar3 (14 + 11/3 + 12/9 + 10/27) / (40/27)
    #   = 523/40; bar4 (13 + 14/3 + 11/9 + 12/27 + 10/81) / (121/81) = 1576/121
    # slow span 3 (alpha 1/2, weights 1, 1/2, 1/4, ...):
    #   bar2 (11 + 12/2 + 10/4) / (7/4) = 78/7; bar3 (14 + 11/2 + 12/4 + 10/8) / (15/8) = 38/3;
    #   bar4 (13 + 14/2 + 11/4 + 12/8 + 10/16) / (31/16) = 398/31
    macd = [145 / 13 - 78 / 7, 523 / 40 - 38 / 3, 1576 / 121 - 398 / 31]
    assert macd == pytest.approx([1 / 91, 49 / 120, 698 / 3751], rel=1e-12)
    # signal span 2 over macd from bar 2 (weights 1, 1/3, 1/9), min_periods 2
    sig3 = (49 / 120 + (1 / 91) / 3) / (4 / 3)
    sig4 = (698 / 3751 + (49 / 120) / 3 + (1 / 91) / 9) / (13 / 9)
    assert [sig3, sig4] == pytest.approx([4499 / 14560, 39742229 / 177497320], rel=1e-12)
    check(
        MACD(2, 3, 2, "course"),
        closes([10, 12, 11, 14, 13]),
        {
            "macd": [nan, nan, 1 / 91, 49 / 120, 698 / 3751],
            "signal": [nan, nan, nan, sig3, sig4],
            "hist": [nan, nan, nan, 49 / 120 - sig3, 698 / 3751 - sig4],
        },
    )


BOLL = [1, 2, 3, 5, 5, 5]
# windows of 3: [1,2,3] mean 2 var (1+0+1)/3; [2,3,5] mean 10/3 var (16+1+25)/27;
# [3,5,5] mean 13/3 var (16+4+4)/27; [5,5,5] mean 5 var 0
BOLL_STD = [nan, nan, sqrt(2 / 3), sqrt(42 / 27), sqrt(24 / 27), 0.0]


def bands(middle: list[float], std: list[float], k: float) -> dict[str, list[float]]:
    upper = [m + k * s for m, s in zip(middle, std, strict=True)]
    lower = [m - k * s for m, s in zip(middle, std, strict=True)]
    width = [100 * (u - lo) / m for u, lo, m in zip(upper, lower, middle, strict=True)]
    width_abs = [2 * k * s for s in std]  # upper - lower, in price units
    return {
        "middle": middle,
        "upper": upper,
        "lower": lower,
        "width": width,
        "width_abs": width_abs,
    }


def test_bollinger_sma_middle() -> None:
    middle = [nan, nan, 2, 10 / 3, 13 / 3, 5]
    expected = bands(middle, BOLL_STD, 2)
    assert expected["upper"][2] == 2 + 2 * sqrt(2 / 3)
    assert expected["width"][5] == 0.0  # a flat window has zero width, exactly
    check(Bollinger(3, 2.0), closes(BOLL), expected)


def test_bollinger_ema_middle_is_the_course_variant() -> None:
    # adjusted EMA span 3 (alpha 1/2; weights 1, 1/2, 1/4, ... newest first) on 1, 2, 3, 5, 5, 5:
    # bar2 (3 + 2/2 + 1/4) / (7/4) = 17/7; bar3 (5 + 3/2 + 2/4 + 1/8) / (15/8) = 19/5;
    # bar4 (5 + 5/2 + 3/4 + 2/8 + 1/16) / (31/16) = 137/31;
    # bar5 (5 + 5/2 + 5/4 + 3/8 + 2/16 + 1/32) / (63/32) = 33/7; same rolling std
    middle = [nan, nan, 17 / 7, 19 / 5, 137 / 31, 33 / 7]
    check(Bollinger(3, 2.0, "ema"), closes(BOLL), bands(middle, BOLL_STD, 2))


def test_bollinger_sample_std() -> None:
    # ddof=1 on [1,2,3]: var = 2 / (3 - 1) = 1
    expected = bands([nan, nan, 2.0], [nan, nan, 1.0], 1.5)
    check(Bollinger(3, 1.5, ddof=1), closes([1, 2, 3]), expected)


ATR_BARS = frame(
    high=[10, 11, 13, 12, 11],
    low=[8, 9, 12, 9, 10],
    close=[9, 10, 12.5, 10, 10.5],
)
# true range: bar0 H-L = 2; bar1 max(2, |11-9|, |9-9|) = 2; bar2 max(1, |13-10|, |12-10|) = 3;
# bar3 max(3, |12-12.5|, |9-12.5|) = 3.5; bar4 max(1, |11-10|, |10-10|) = 1


def test_atr_wilder_is_ta() -> None:
    a2 = (2 + 2 + 3) / 3  # seed: mean of the first 3 true ranges
    a3 = (a2 * 2 + 3.5) / 3  # 49/18
    a4 = (a3 * 2 + 1) / 3  # 58/27
    assert a4 == pytest.approx(58 / 27)
    check(ATR(3), ATR_BARS, {"atr": [nan, nan, a2, a3, a4]})


def test_atr_course() -> None:
    # TR undefined on bar 0; adjusted ewm(com=3) -> alpha 1/4, weights 1, 3/4, 9/16, 27/64 on
    # the TRs from bar 1 (2, 3, 3.5, 1), newest first; min_periods 3 -> first value at bar 3
    e3 = (3.5 + 3 * 3 / 4 + 2 * 9 / 16) / (1 + 3 / 4 + 9 / 16)
    e4 = (1 + 3.5 * 3 / 4 + 3 * 9 / 16 + 2 * 27 / 64) / (1 + 3 / 4 + 9 / 16 + 27 / 64)
    assert (e3, e4) == pytest.approx((110 / 37, 394 / 175), rel=1e-15)
    check(ATR(3, "course"), ATR_BARS, {"atr": [nan, nan, nan, e3, e4]})


def test_rsi() -> None:
    # changes: bar0 none (counted as 0), +1, -0.5, +1.5, 0, -1; Wilder alpha 1/3
    # avg gain: 0, 1/3, 2/9, 35/54, 35/81, 70/243   avg loss: 0, 0, 1/6, 1/9, 2/27, 31/81
    def rsi(gain: float, loss: float) -> float:
        return 100 - 100 / (1 + gain / loss)

    expected = [nan, nan, rsi(2 / 9, 1 / 6), rsi(35 / 54, 1 / 9), rsi(35 / 81, 2 / 27)]
    expected.append(rsi(70 / 243, 31 / 81))
    assert expected[2] == pytest.approx(400 / 7)
    assert expected[5] == pytest.approx(7000 / 163)
    check(RSI(3), closes([10, 11, 10.5, 12, 12, 11]), {"rsi": expected})


def test_rsi_is_100_without_losses() -> None:
    check(RSI(3), closes([1, 2, 3, 4]), {"rsi": [nan, nan, 100, 100]})


def test_adx() -> None:
    bars = frame(
        high=[10, 11, 10.5, 12, 11.5, 11],
        low=[9, 9.5, 9, 10, 10.5, 9],
        close=[9.5, 10.5, 9.5, 11.5, 11, 9.5],
    )
    # bar: TR, +DM, -DM (from bar 1)
    # 1: max(1.5, |11-9.5|, |9.5-9.5|) = 1.5, up 1 > down -0.5 -> +DM 1, -DM 0
    # 2: max(1.5, |10.5-10.5|, |9-10.5|) = 1.5, up -0.5, down 0.5 -> 0, 0.5
    # 3: max(2, |12-9.5|, |10-9.5|) = 2.5, up 1.5, down -1 -> 1.5, 0
    # 4: max(1, |11.5-11.5|, |10.5-11.5|) = 1, up -0.5, down -0.5 -> 0, 0
    # 5: max(2, |11-11|, |9-11|) = 2, up -0.5, down 1.5 -> 0, 1.5
    # n=2, seeded with the mean of bars 1-2, then s = s/2 + x/2:
    # TR_s 1.5, 2, 1.5, 1.75; +DM_s 0.5, 1, 0.5, 0.25; -DM_s 0.25, 0.125, 0.0625, 0.78125
    plus = [nan, nan, 100 * 0.5 / 1.5, 100 * 1 / 2, 100 * 0.5 / 1.5, 100 * 0.25 / 1.75]
    minus = [nan, nan, 100 * 0.25 / 1.5, 100 * 0.125 / 2, 100 * 0.0625 / 1.5]
    minus.append(100 * 0.78125 / 1.75)
    dx = [100 * abs(p - m) / (p + m) for p, m in zip(plus[2:], minus[2:], strict=True)]
    assert dx == pytest.approx([100 / 3, 700 / 9, 700 / 9, 1700 / 33])
    adx3 = (dx[0] + dx[1]) / 2  # seed at bar 2n-1 = 3: mean of DX over bars 2..3
    adx4 = adx3 / 2 + dx[2] / 2
    adx5 = adx4 / 2 + dx[3] / 2
    assert [adx3, adx4, adx5] == pytest.approx([500 / 9, 200 / 3, 650 / 11])
    check(
        ADX(2),
        bars,
        {"adx": [nan, nan, nan, adx3, adx4, adx5], "plus_di": plus, "minus_di": minus},
    )


def test_stochastic() -> None:
    bars = frame(
        high=[10, 11, 12, 11, 10, 9],
        low=[8, 9, 10, 7, 8, 8],
        close=[9, 10, 11, 8, 9.5, 8.5],
    )
    # n=3: bar2 HH 12 LL 8 -> 100*3/4; bar3 HH 12 LL 7 -> 100*1/5; bar4 12, 7 -> 100*2.5/5;
    # bar5 HH 11 LL 7 -> 100*1.5/4. d = mean of the last 2 k.
    k = [nan, nan, 75, 20, 50, 37.5]
    d = [nan, nan, nan, (75 + 20) / 2, (20 + 50) / 2, (50 + 37.5) / 2]
    check(Stochastic(3, 2), bars, {"k": k, "d": d})


def test_stochastic_flat_range_is_nan() -> None:
    bars = closes([5, 5, 5, 6])  # HH == LL over bars 0-2: %K undefined
    check(Stochastic(3, 1), bars, {"k": [nan, nan, nan, 100], "d": [nan, nan, nan, 100]})


def adjusted(xs: Sequence[float], alpha: float) -> float:
    """pandas' adjust=True mean on paper: weights (1 - alpha)^age, the newest value last."""
    weights = [(1 - alpha) ** age for age in range(len(xs))][::-1]
    return sum(w * x for w, x in zip(weights, xs, strict=True)) / sum(weights)


def test_rsi_course_seeds_with_the_mean_at_bar_n() -> None:
    # closes 10, 11, 10.5, 12, 12, 11: changes from bar 1 are +1, -0.5, +1.5, 0, -1
    # bar 3 (= n): mean of bars 1..3: gain (1 + 0 + 1.5) / 3 = 5/6, loss 0.5 / 3 = 1/6
    # then avg = (2 avg + x) / 3: bar 4 gain 5/9 loss 1/9; bar 5 gain 10/27 loss 11/27
    def rsi(gain: float, loss: float) -> float:
        return 100 - 100 / (1 + gain / loss)

    expected = [nan, nan, nan, rsi(5 / 6, 1 / 6), rsi(5 / 9, 1 / 9), rsi(10 / 27, 11 / 27)]
    assert expected[3:] == pytest.approx([250 / 3, 250 / 3, 1000 / 21])
    check(RSI(3, "course"), closes([10, 11, 10.5, 12, 12, 11]), {"rsi": expected})
    # ta's RSI(3) on the same closes differs (400/7 at bar 2): the course's is not ta's
    assert not np.allclose(RSI(3).batch(closes([10, 11, 10.5, 12, 12, 11])).rsi[3:], expected[3:])


def test_rsi_course_zero_rules_are_numpys() -> None:
    # no loss: gain / 0 = inf, RSI 100; no change at all: 0 / 0, NaN (ta says 100)
    check(RSI(2, "course"), closes([1, 2, 3, 4]), {"rsi": [nan, nan, 100, 100]})
    # bar 2: 0/0; bar 3: gain (0 + 1) / 2, loss 0 -> 100
    check(RSI(2, "course"), closes([5, 5, 5, 6]), {"rsi": [nan, nan, nan, 100]})


def test_adx_course_is_ewm_span_smoothing() -> None:
    bars = frame(
        high=[10, 11, 10.5, 12, 11.5, 11],
        low=[9, 9.5, 9, 10, 10.5, 9],
        close=[9.5, 10.5, 9.5, 11.5, 11, 9.5],
    )
    # TR from bar 1: 1.5, 1.5, 2.5, 1, 2 (bar 0: none); +DM bars 0-5: 0, 1, 0, 1.5, 0, 0;
    # -DM: 0, 0, 0.5, 0, 0, 1.5 (bar 0 counts as 0). n = 2: span 2, alpha 2/3, so weights
    # 1, 1/3, 1/9, ... newest first; min_periods 2
    a = 2 / 3
    tr, plus, minus = [1.5, 1.5, 2.5, 1, 2], [0, 1, 0, 1.5, 0, 0], [0, 0, 0.5, 0, 0, 1.5]
    tr_s = [adjusted(tr[: i + 1], a) for i in range(1, 5)]  # bars 2..5
    plus_s = [adjusted(plus[: i + 1], a) for i in range(2, 6)]
    minus_s = [adjusted(minus[: i + 1], a) for i in range(2, 6)]
    assert tr_s == pytest.approx([3 / 2, 57 / 26, 111 / 80, 435 / 242], rel=1e-15)
    assert plus_s == pytest.approx([3 / 13, 87 / 80, 87 / 242, 87 / 728], rel=1e-15)
    assert minus_s == pytest.approx([9 / 26, 9 / 80, 9 / 242, 369 / 364], rel=1e-15)
    plus_di = [100 * p / t for p, t in zip(plus_s, tr_s, strict=True)]
    minus_di = [100 * m / t for m, t in zip(minus_s, tr_s, strict=True)]
    assert plus_di[0] == pytest.approx(200 / 13) and minus_di[0] == pytest.approx(300 / 13)
    dx = [100 * abs(p - m) / (p + m) for p, m in zip(plus_di, minus_di, strict=True)]
    assert dx[0] == pytest.approx(20)  # |2 - 3| / (2 + 3) in units of 100/13
    adx = [adjusted(dx[: i + 1], a) for i in range(1, 4)]  # from bar 3
    check(
        ADX(2, "course"),
        bars,
        {"adx": [nan] * 3 + adx, "plus_di": [nan] * 2 + plus_di, "minus_di": [nan] * 2 + minus_di},
    )


def test_adx_course_keeps_the_courses_nans() -> None:
    # flat 5, 5, 5 then 6, 7: every TR through bar 2 is 0, so +DI = 0 / 0 = NaN there (ta: 0)
    # bar 3: TR_s = 1 / (13/9) = 9/13, +DM_s = 1 / (40/27) = 27/40 -> +DI 97.5, -DI 0, DX 100
    # bar 4: TR_s = (1 + 1/3) / (40/27) = 0.9, +DM_s = (1 + 1/3) / (121/81) = 108/121
    # ADX: the NaN DX of bar 2 is skipped, min_periods 2 -> bar 4: DX 100 twice -> 100
    plus4 = 100 * (108 / 121) / 0.9
    check(
        ADX(2, "course"),
        closes([5, 5, 5, 6, 7]),
        {
            "adx": [nan, nan, nan, nan, 100],
            "plus_di": [nan, nan, nan, 97.5, plus4],
            "minus_di": [nan, nan, nan, 0, 0],
        },
    )


def test_stochastic_ema_d() -> None:
    bars = frame(
        high=[10, 11, 12, 11, 10, 9],
        low=[8, 9, 10, 7, 8, 8],
        close=[9, 10, 11, 8, 9.5, 8.5],
    )
    # %K as in test_stochastic: 75, 20, 50, 37.5 from bar 2. %D = adjusted ewm(span=2) of %K
    # (weights 1, 1/3, 1/9, ...), min_periods 2: bar3 (20 + 75/3) / (4/3) = 33.75;
    # bar4 (50 + 20/3 + 75/9) / (13/9) = 45; bar5 (37.5 + 50/3 + 20/9 + 75/27) / (40/27)
    d = [nan, nan, nan, 33.75, 45, 1597.5 / 40]
    assert adjusted([75, 20, 50, 37.5], 2 / 3) == pytest.approx(d[5])
    check(Stochastic(3, 2, "ema"), bars, {"k": [nan, nan, 75, 20, 50, 37.5], "d": d})


def test_stochastic_ema_d_holds_over_a_flat_range() -> None:
    # %K 100, 100 then NaN (HH == LL): the SMA goes NaN, the course's ewm keeps its mean
    bars = closes([1, 2, 3, 3, 3, 3])
    k = [nan, nan, 100, 100, nan, nan]
    check(Stochastic(3, 2, "ema"), bars, {"k": k, "d": [nan, nan, nan, 100, 100, 100]})
    check(Stochastic(3, 2), bars, {"k": k, "d": [nan, nan, nan, 100, nan, nan]})


def test_bollinger_width_abs_is_in_price_units() -> None:
    # [1, 2, 3]: std sqrt(2/3), so upper - lower = 2 * 2 * sqrt(2/3) whatever the middle
    value = Bollinger(3, 2.0).incremental()
    for close in (1.0, 2.0, 3.0):
        last = value.update(close, close, close, 0.0)
    assert last.width_abs == pytest.approx(4 * sqrt(2 / 3), rel=1e-15)
    assert last.width == pytest.approx(100 * last.width_abs / 2, rel=1e-15)  # middle 2
