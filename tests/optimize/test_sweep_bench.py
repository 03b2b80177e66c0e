"""Smoke run of bench/sweep_bench.py --quick (slow: Ray's start alone takes 10-20 s)."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(660)  # its subprocess may take 600 s
def test_quick_sweep_bench_prints_every_row_with_the_same_results() -> None:
    done = subprocess.run([sys.executable, str(ROOT / "bench" / "sweep_bench.py"), "--quick"],
                          cwd=ROOT, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    table = done.stdout.split("\n\n")[-1]
    cases = ["sequential loop", "local, in-process", "local pool"]
    cases += ["ray local"] if _has_ray() else []
    for case in cases:
        row = re.search(rf"^{re.escape(case)}.*$", table, re.M)
        assert row is not None, f"no {case!r} row in:\n{table}"
        assert re.search(r"\s8\s+[\d.]+\s+[\d.]+\s+[\d.]+x\s+yes", row[0]), row[0]


def _has_ray() -> bool:
    import importlib.util

    return importlib.util.find_spec("ray") is not None
