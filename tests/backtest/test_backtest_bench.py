"""Smoke run of bench/backtest_bench.py --quick, end to end (slow: about a minute on the
gateway replay)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(660)  # its subprocess may take 600 s
def test_quick_bench_prints_every_figure() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "backtest_bench.py"), "--quick"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout.split("\n\n")[-1]
    for case in ("SMA 10/30 1-min", "1 symbol x", "macd_stochastic 15-min", "numpy floor",
                 "whole-process floor"):
        assert case in table, f"no {case!r} row in:\n{table}"
    trips = re.search(r"round trips +ibbot (\d+), backtrader (\d+)", table)
    assert trips is not None, table
    assert int(trips[1]) > 0 and trips[1] == trips[2], "the quick slice's trade counts differ"
    assert len(re.findall(r"[\d,]+ bars/s", table)) >= 6, table
    assert re.search(r"peak RSS [\d,]+ MB", table), table
