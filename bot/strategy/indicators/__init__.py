"""Indicators that strategies declare and the engine keeps up to date.

Each indicator is a frozen, hashable spec (``MACD(12, 26, 9)``; ``str()`` gives
"MACD(12,26,9)") with two equal paths: ``incremental()`` returns an updater whose
``update(high, low, close, volume)`` costs O(1) per bar whatever the history length (live), and
``batch(df)`` computes the whole series vectorized (backtests). Both give the same values,
including the NaN warm-up, to 1e-9; ``warmup`` is the number of bars before every field is
defined. Single-output indicators return a float, the others a NamedTuple.
``IndicatorSet`` holds the updaters of one (symbol, bar spec) and the last few values.

Definitions, and which variant is which where the IB API course and ``ta`` differ. ta's EMAs
are pandas' ``ewm(..., adjust=False)`` (seeded with the first value); the course's are its
literal pandas code, i.e. pandas' default ``adjust=True`` (the (1 - alpha)^age weighted mean of
every value so far). Every ``min_periods`` counts observations, and leading NaNs are skipped, as
in pandas. "bar i" counts from 0:

======================================  ==========================================================
Spec (value)                            Definition
======================================  ==========================================================
``SMA(n)`` (float)                      mean of the last n closes (ta ``SMAIndicator``)
``EMA(n)`` (float)                      close ``.ewm(span=n, min_periods=n, adjust=False)``
                                        (ta ``EMAIndicator``)
``MACD(fast=12, slow=26, signal=9,      ta ``MACD``: macd = EMA(fast) - EMA(slow), signal =
source="ta")`` (macd, signal, hist)     EMA(signal) of macd, hist = macd - signal; every EMA
                                        ``ewm(span, min_periods=span, adjust=False)``
``MACD(..., source="course")``          course: the same with ``adjust=True`` EMAs, i.e.
                                        ``close.ewm(span=fast, min_periods=fast).mean()`` etc.;
                                        name "MACD(12,26,9,course)"
``Bollinger(n=20, k=2, middle="sma")``  middle = SMA(n); bands +/- k * rolling std(n, ddof=0)
(middle, upper, lower, width,           (ta ``BollingerBands``); width = 100 * (upper - lower) /
width_abs)                              middle (ta ``bollinger_wband``); width_abs = upper -
                                        lower in price units (the course's ``BB_width``)
``Bollinger(..., middle="ema")``        course: middle = close ``.ewm(span=n, min_periods=n)``,
                                        ``adjust=True``; bands still +/- k * rolling std of the
                                        last n closes, ddof 0
``ATR(n=14, method="wilder")`` (float)  ta ``AverageTrueRange``: TR on bar 0 = H - L; bar n-1 =
                                        mean of the first n TRs; then (atr*(n-1) + TR) / n
``ATR(n, method="course")`` (float)     course: TR (``max(skipna=False)``, so undefined on bar 0)
                                        ``.ewm(com=n, min_periods=n)``, ``adjust=True``, alpha =
                                        1/(n+1); first value bar n
``RSI(n=14, method="ta")`` (float)      ta ``RSIIndicator``: Wilder averages (alpha = 1/n) of gains
                                        and losses; 100 if avg loss is 0; first value bar n-1
``RSI(n, method="course")`` (float)     course (its default n=20): averages seeded at bar n with
                                        the mean of bars 1..n's gains (losses), then (avg*(n-1) +
                                        x) / n; 100 if avg loss is 0, NaN if both are 0
``ADX(n=14, method="ta")``              ta ``ADXIndicator``: DI from bar n, ADX from bar 2n-1
(adx, plus_di, minus_di)                (ta shows 0 before, and 0 for the DIs at bar n)
``ADX(n, method="course")``             course (its default n=20): TR, +DM, -DM and DX each
                                        ``.ewm(span=n, min_periods=n)``, ``adjust=True``; 0 / 0
                                        is NaN (ta: 0); DI from bar n, ADX from bar 2n-1
``Stochastic(n=14, smooth=3,``          %K = 100 (C - LL_n) / (HH_n - LL_n), NaN if HH_n == LL_n;
``d="sma")`` (k, d)                      %D = SMA(smooth) of %K (ta ``StochasticOscillator``;
                                        the course's strategy uses n=20, smooth=3)
``Stochastic(..., d="ema")``            course (stochastic lecture): %D = %K ``.ewm(span=smooth,
                                        min_periods=smooth)``, ``adjust=True``
======================================  ==========================================================
"""

from bot.strategy.indicators.adx import ADX, ADXValue
from bot.strategy.indicators.atr import ATR
from bot.strategy.indicators.averages import EMA, SMA
from bot.strategy.indicators.base import Incremental, IndicatorSpec
from bot.strategy.indicators.bollinger import Bollinger, BollingerValue
from bot.strategy.indicators.indicator_set import DEFAULT_HISTORY, IndicatorSet
from bot.strategy.indicators.macd import MACD, MACDValue
from bot.strategy.indicators.rsi import RSI
from bot.strategy.indicators.stochastic import Stochastic, StochValue

__all__ = [
    "ADX",
    "ATR",
    "DEFAULT_HISTORY",
    "EMA",
    "MACD",
    "RSI",
    "SMA",
    "ADXValue",
    "Bollinger",
    "BollingerValue",
    "Incremental",
    "IndicatorSet",
    "IndicatorSpec",
    "MACDValue",
    "StochValue",
    "Stochastic",
]
