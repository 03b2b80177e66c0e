"""Shared by the indicator tests: random-walk OHLC bars and a live-vs-batch comparison."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

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

TOL = 1e-9

ALL_SPECS: list[IndicatorSpec] = [
    SMA(20),
    EMA(20),
    MACD(),
    MACD(12, 26, 9, "course"),
    Bollinger(),
    Bollinger(20, 2.0, "ema"),
    Bollinger(10, 1.5, ddof=1),
    ATR(14),
    ATR(14, "course"),
    RSI(14),
    RSI(20, "course"),
    ADX(14),
    ADX(20, "course"),
    Stochastic(14, 3),
    Stochastic(20, 3),
    Stochastic(20, 3, "ema"),
]


def random_ohlc(
    seed: int,
    bars: int,
    *,
    price: float = 100.0,
    vol: float = 0.01,
    tick: float | None = None,
    flat: float = 0.0,
) -> pd.DataFrame:
    """A geometric random walk of closes with highs/lows around open and close.

    ``tick`` rounds every price to a grid (ties and zero ranges); ``flat`` is the share of bars
    where nothing trades (H = L = O = C, as on a halted or illiquid symbol)."""
    rng = np.random.default_rng(seed)
    close = price * np.exp(np.cumsum(rng.normal(0.0, vol, bars)))
    is_flat = rng.random(bars) < flat
    for i in np.flatnonzero(is_flat):
        close[i] = close[i - 1] if i else close[i]
    open_ = np.concatenate((close[:1], close[:-1]))
    spread = np.abs(rng.normal(0.0, vol, (2, bars))) * close
    high = np.maximum(open_, close) + spread[0] * ~is_flat
    low = np.minimum(open_, close) - spread[1] * ~is_flat
    if tick:
        open_, high, low, close = (np.round(x / tick) * tick for x in (open_, high, low, close))
    open_ = np.where(is_flat, close, open_)
    high = np.where(is_flat, close, high)
    low = np.where(is_flat, close, low)
    index = pd.date_range("2024-01-02 14:30", periods=bars, freq="15min", tz="UTC")
    volume = rng.integers(100, 10_000, bars).astype(float)
    return pd.DataFrame(
        {"open": open_, "high": high, "low": low, "close": close, "volume": volume}, index=index
    )


def run_live(spec: IndicatorSpec, bars: pd.DataFrame) -> np.ndarray:
    """Feed ``bars`` one by one; rows of values in ``spec.outputs`` order."""
    updater = spec.incremental()
    cols = [bars[c].to_numpy().tolist() for c in ("high", "low", "close", "volume")]
    rows: list[Any] = [updater.update(h, low, c, v) for h, low, c, v in zip(*cols, strict=True)]
    single = len(spec.outputs) == 1
    return np.array([[r] if single else list(r) for r in rows], dtype=float).reshape(
        len(rows), len(spec.outputs)
    )


def assert_close(actual: np.ndarray, expected: np.ndarray, what: str, tol: float = TOL) -> None:
    """Same NaN pattern, and each value equal to ``tol`` absolute or relative."""
    actual = np.asarray(actual, dtype=float)
    expected = np.asarray(expected, dtype=float)
    assert actual.shape == expected.shape, what
    nan_a, nan_e = np.isnan(actual), np.isnan(expected)
    if not np.array_equal(nan_a, nan_e):
        where = np.argwhere(nan_a != nan_e)[0]
        raise AssertionError(
            f"{what}: NaN pattern differs first at {tuple(where)}: "
            f"{actual[tuple(where)]} vs {expected[tuple(where)]}"
        )
    diff = np.abs(np.where(nan_a, 0.0, actual - expected))
    bound = np.maximum(tol, tol * np.abs(np.where(nan_e, 0.0, expected)))
    bad = diff > bound
    if bad.any():
        where = tuple(np.argwhere(bad)[0])
        raise AssertionError(
            f"{what}: {bad.sum()} values differ, first at {where}: "
            f"{actual[where]!r} vs {expected[where]!r}"
        )
