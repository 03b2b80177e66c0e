"""Run ``ibbot backtest`` as a whole process, the way a user does, and read what it wrote.

Shared by the backtrader cross-check test and bench/backtest_bench.py: the configs they
backtest (SMA crossover long/flat with fixed sizing), the command line (with the engine as a
parameter), wall time and peak RSS of the process, and its trades.csv / kpis.json.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "data" / "sample"
INSTRUMENTS = REPO / "config" / "instruments.yaml"
IBBOT = [sys.executable, "-m", "bot"]


def sma_config(
    symbols: Sequence[str],
    *,
    data: Path = SAMPLE,
    instruments: Path = INSTRUMENTS,
    warmup_days: int = 1,
    fast: int = 10,
    slow: int = 30,
    quantity: int = 100,
    bar_size: str = "1 min",
    cash: float = 1e9,
) -> str:
    """YAML of sma_crossover long/flat, ``quantity`` shares, on ``symbols`` (all NASDAQ stocks).

    Cash is ample and the order-rate limit off, so no order is refused for reasons backtrader
    does not model; no commission, and market orders fill at the trade price (``fill_at:
    last``) as backtrader fills them, not across the quoted spread as at IB.
    """
    names = ", ".join(symbols)
    return (
        "ib: {client_id: 41}\n"
        "gateway:\n"
        f"  data: {data}\n"
        f"  instruments: {instruments}\n"
        "  seed: 1\n"
        f"  cash: {cash:.0f}\n"
        "  commission: none\n"
        "  fill_at: last\n"
        "universe:\n"
        "  defaults: {sec_type: STK, exchange: SMART, currency: USD, primary_exchange: NASDAQ}\n"
        f"  symbols: [{names}]\n"
        "strategies:\n"
        "  - id: sma\n"
        "    class: sma_crossover\n"
        f"    symbols: [{names}]\n"
        f"    bars: {{size: {bar_size}, use_rth: true, warmup: {warmup_days} D}}\n"
        f"    params: {{fast: {fast}, slow: {slow}, mode: long_flat}}\n"
        f"    sizing: {{fixed: {quantity}}}\n"
        "risk: {max_orders_per_minute: null}\n"
    )


@dataclass(frozen=True, slots=True)
class Run:
    """One finished ``ibbot backtest`` process."""

    engine: str
    returncode: int
    wall_seconds: float  # the whole process: interpreter start, imports, data, replay, reports
    peak_rss_mb: float  # of the process (ru_maxrss of exactly this child)
    out: Path
    stdout: str
    stderr: str

    def kpis(self) -> dict[str, Any]:
        return dict(json.loads((self.out / "kpis.json").read_text()))

    def trades(self) -> list[dict[str, str]]:
        with (self.out / "trades.csv").open(newline="") as f:
            return list(csv.DictReader(f))

    def check(self) -> Run:
        if self.returncode != 0:
            raise RuntimeError(
                f"ibbot backtest exited {self.returncode}\n{self.stdout[-2000:]}\n"
                f"{self.stderr[-4000:]}"
            )
        return self


def backtest(
    config: Path,
    first: date,
    last: date,
    out: Path,
    *,
    engine: str = "inprocess",
    timeout: float | None = None,
) -> Run:
    """``ibbot backtest CONFIG --from --to --out [--engine]`` in a fresh process, measured."""
    cmd = [*IBBOT, "backtest", str(config), "--from", first.isoformat(),
           "--to", last.isoformat(), "--out", str(out)]  # fmt: skip
    cmd += ["--engine", engine]
    code, wall, rss, stdout, stderr = measure(cmd, timeout=timeout)
    return Run(engine, code, wall, rss, out, stdout, stderr)


def measure(
    cmd: Sequence[str], *, timeout: float | None = None
) -> tuple[int, float, float, str, str]:
    """Run ``cmd`` from the repo root: (exit code, wall seconds, peak RSS in MB, stdout,
    stderr). The peak RSS is the kernel's ru_maxrss of exactly this child (os.wait4), so
    earlier children of the caller do not count. Killed past ``timeout``
    (subprocess.TimeoutExpired)."""
    killed = threading.Event()
    with tempfile.TemporaryFile("w+") as out, tempfile.TemporaryFile("w+") as err:
        t0 = time.perf_counter()
        proc = subprocess.Popen(list(cmd), cwd=REPO, stdout=out, stderr=err, text=True)

        def kill() -> None:
            killed.set()
            proc.kill()

        timer = threading.Timer(timeout, kill) if timeout else None
        if timer is not None:
            timer.start()
        try:
            _, status, usage = os.wait4(proc.pid, 0)
        finally:
            if timer is not None:
                timer.cancel()
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
        out.seek(0)
        err.seek(0)
        stdout, stderr = out.read(), err.read()
    if killed.is_set():
        raise subprocess.TimeoutExpired(list(cmd), timeout or 0, stdout, stderr)
    return proc.returncode, wall, usage.ru_maxrss / 1024, stdout, stderr
