"""Smoke run of bench/soak_bench.py on a tiny size (slow: a minute or two)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(660)  # its subprocess may take 600 s
def test_tiny_soak_prints_rss_growth_and_no_violation() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "bench" / "soak_bench.py"), "--bars", "1200",
         "--symbols", "2", "--fault-every", "400", "--seed", "3"],
        cwd=ROOT, capture_output=True, text=True, timeout=600,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    out = done.stdout
    assert re.search(r"bars: 1,200 through the daemon", out), out
    assert re.search(r"faults: 3 \(", out), out
    assert re.search(r"growth [+-][\d,.]+ MB", out), out
    assert "invariant violations: 0 (target 0); daemon exit code 0" in out, out
    orders = re.search(r"orders: ([\d,]+); executions: ([\d,]+)", out)
    assert orders is not None and int(orders[1].replace(",", "")) > 0, out
