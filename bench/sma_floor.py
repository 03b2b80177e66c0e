"""The whole-process floor of the SMA case of bench/backtest_bench.py: a process that only reads
the data files with the project's reader and computes sma_crossover's signals with numpy.

No engine, strategy, risk stage, broker or report: no backtest of these files, by any engine
that reads them with ``bot.sim.datafile``, can finish sooner as a whole process. backtrader's
wall time over this one is the largest ratio "backtrader / ibbot" that could be shown.

    python bench/sma_floor.py --data data/sample --symbols AAPL,MSFT [--instruments FILE]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: bot/ from this checkout
    sys.path.insert(0, str(REPO))

from bot.sim.datafile import find_file, read_bars  # noqa: E402
from bot.sim.instruments import Instruments  # noqa: E402


def sma_signals(close: np.ndarray, fast: int = 10, slow: int = 30) -> np.ndarray:
    """+1 on a cross up, -1 on a cross down, 0 elsewhere (sma_crossover's rule), vectorized."""
    c = np.concatenate(([0.0], np.cumsum(close)))

    def sma(n: int) -> np.ndarray:
        out = np.full(len(close), np.nan)
        out[n - 1 :] = (c[n:] - c[:-n]) / n
        return out

    f, s = sma(fast), sma(slow)
    f1, s1 = np.roll(f, 1), np.roll(s, 1)
    f1[0] = s1[0] = np.nan
    up, down = (f > s) & (f1 <= s1), (f < s) & (f1 >= s1)
    return up.astype(np.int8) - down.astype(np.int8)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--instruments", type=Path, default=REPO / "config" / "instruments.yaml")
    ap.add_argument("--symbols", required=True, help="comma separated")
    args = ap.parse_args(argv)
    instruments = Instruments.load(args.instruments)
    bars = crosses = 0
    for symbol in args.symbols.split(","):
        inst = instruments.by_symbol(symbol)
        path = find_file(args.data, inst.local_symbol)
        if path is None:
            raise SystemExit(f"{args.data}: no data file for {symbol}")
        close = read_bars(path, inst).close
        bars += len(close)
        crosses += int(np.count_nonzero(sma_signals(close)))
    print(f"floor: {bars} bars, {crosses} crosses")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
