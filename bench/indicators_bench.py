"""Per-bar cost of the live indicator updates after 1k vs 100k bars of history.

O(1) per bar means the cost must not depend on how much history the updater has seen: the
ratio (100k / 1k) should stay near 1. Run: ``.venv/bin/python bench/indicators_bench.py``.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

from bot.strategy.indicators import (
    ADX,
    ATR,
    EMA,
    MACD,
    RSI,
    SMA,
    Bollinger,
    IndicatorSet,
    IndicatorSpec,
    Stochastic,
)

SPECS: list[IndicatorSpec] = [
    SMA(20),
    SMA(200),
    EMA(20),
    MACD(),
    MACD(12, 26, 9, "course"),
    Bollinger(),
    Bollinger(20, 2.0, "ema"),
    ATR(14),
    ATR(60, "course"),
    RSI(14),
    ADX(14),
    Stochastic(20, 3),
]


def random_bars(count: int, seed: int = 1) -> list[tuple[float, float, float, float]]:
    rng = np.random.default_rng(seed)
    close = np.round(100 * np.exp(np.cumsum(rng.normal(0, 0.002, count))), 2)
    high = close + np.round(rng.random(count) * 0.2, 2)
    low = close - np.round(rng.random(count) * 0.2, 2)
    volume = rng.integers(100, 10_000, count).astype(float)
    return list(zip(high.tolist(), low.tolist(), close.tolist(), volume.tolist(), strict=True))


def per_bar_ns(spec: IndicatorSpec | None, history: int, measured: int, repeats: int) -> float:
    """Best-of-``repeats`` mean cost of one update after ``history`` bars (None: a full set)."""
    bars = random_bars(history + measured)
    best = float("inf")
    for _ in range(repeats):
        if spec is None:
            indicators = IndicatorSet()
            for s in SPECS:
                indicators.add(s)
            update = indicators.update
        else:
            update = spec.incremental().update
        for h, lo, c, v in bars[:history]:
            update(h, lo, c, v)
        tail = bars[history:]
        start = time.perf_counter_ns()
        for h, lo, c, v in tail:
            update(h, lo, c, v)
        best = min(best, (time.perf_counter_ns() - start) / measured)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--measured", type=int, default=20_000, help="bars timed after history")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    print(f"{'indicator':28} {'1k hist ns/bar':>15} {'100k hist ns/bar':>17} {'ratio':>6}")
    worst = 0.0
    for spec in [*SPECS, None]:
        small = per_bar_ns(spec, 1_000, args.measured, args.repeats)
        large = per_bar_ns(spec, 100_000, args.measured, args.repeats)
        ratio = large / small
        worst = max(worst, ratio)
        name = str(spec) if spec is not None else f"IndicatorSet({len(SPECS)} specs)"
        print(f"{name:28} {small:15.0f} {large:17.0f} {ratio:6.2f}")
    print(f"worst ratio {worst:.2f} (near 1 = O(1) per bar)")


if __name__ == "__main__":
    main()
