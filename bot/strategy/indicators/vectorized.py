"""Batch building blocks (numpy/pandas), the vectorized twins of ``windows``."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from numpy.lib.stride_tricks import sliding_window_view

from bot.strategy.indicators.windows import com_from_alpha

FloatArray = np.ndarray


def ewm_mean(
    x: FloatArray, com: float, *, min_periods: int = 0, adjust: bool = False
) -> FloatArray:
    """``Series.ewm(com=com, adjust=adjust, min_periods=min_periods).mean()``: pandas itself, the
    reference the live ``Ewm`` mirrors (NaN inputs included)."""
    s = pd.Series(x, dtype="float64")
    return s.ewm(com=com, adjust=adjust, min_periods=min_periods).mean().to_numpy()


def rolling_mean(x: FloatArray, n: int) -> FloatArray:
    s = pd.Series(x, dtype="float64")
    return s.rolling(n, min_periods=n).mean().to_numpy()


def seeded_wilder(x: FloatArray, n: int, start: int) -> FloatArray:
    """Wilder smoothing of ``x[start:]`` seeded with the mean of its first ``n`` values."""
    out = np.full(len(x), np.nan)
    seed_at = start + n - 1
    if len(x) <= seed_at:
        return out
    y = np.array(x, dtype="float64")
    y[:seed_at] = np.nan
    y[seed_at] = math.fsum(x[start : seed_at + 1]) / n
    out[seed_at:] = ewm_mean(y[seed_at:], com_from_alpha(1.0 / n))
    return out


def true_range(high: FloatArray, low: FloatArray, close: FloatArray, first: float) -> FloatArray:
    """max(H - L, |H - prev C|, |L - prev C|); bar 0 has no previous close and gets ``first``."""
    prev = np.concatenate(([np.nan], close[:-1]))
    tr = np.maximum(high - low, np.maximum(np.abs(high - prev), np.abs(low - prev)))
    if len(tr):
        tr[0] = first
    return tr


def rolling_std(x: FloatArray, n: int, ddof: int, chunk: int = 8192) -> FloatArray:
    """Two-pass standard deviation of each full window (exact enough to match the live path's
    exactly rounded value even on flat windows, where a running-sum formula would not)."""
    out = np.full(len(x), np.nan)
    if len(x) < n:
        return out
    windows = sliding_window_view(np.asarray(x, dtype="float64"), n)
    for lo in range(0, len(windows), chunk):
        w = windows[lo : lo + chunk]
        dev = w - w.mean(axis=1, keepdims=True)
        out[n - 1 + lo : n - 1 + lo + len(w)] = np.sqrt((dev * dev).sum(axis=1) / (n - ddof))
    return out
