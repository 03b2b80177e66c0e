"""A finished backtest folder for the report tests, made in a few seconds: ``ibbot backtest
--report`` for real, in-process, on an example config (config/sma_crossover.yaml over a week
of the sample), with one risk limit added so that its largest reversals are refused and the
report has rejections to show. Its trades are the backtest's own."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import pytest

from bot.cli import main
from bot.journal.queries import open_reader

ROOT = Path(__file__).resolve().parents[2]
CONFIG = ROOT / "config/sma_crossover.yaml"  # AAPL, MSFT, NVDA, AMZN on 15-minute bars
FIRST, LAST = "2026-10-19", "2026-10-23"
RISK = "\nrisk:\n  max_order_notional: 20000   # refuses the reversals above $20k\n"
REJECTED = "max_order_notional 20000 exceeded"


@dataclass(frozen=True)
class ReportRun:
    out: Path
    cwd: Path  # where the run's config path (in kpis.json) is relative to
    fills: list[tuple[datetime, str, str, float, float]]  # time, symbol, side, qty, price
    rejections: int
    printed: str


@pytest.fixture(scope="session")
def report_run(tmp_path_factory: pytest.TempPathFactory) -> ReportRun:
    import sqlite3

    # The run's own folder, laid out as the repository (its data linked), so that the report
    # names the config as the example's: config/sma_crossover.yaml.
    tmp = tmp_path_factory.mktemp("report")
    (tmp / "config").mkdir()
    (tmp / "data").symlink_to(ROOT / "data")
    shutil.copy(ROOT / "config/instruments.yaml", tmp / "config")
    out, config = tmp / "bt", CONFIG.relative_to(ROOT)
    (tmp / config).write_text(CONFIG.read_text() + RISK)
    cwd = os.getcwd()
    os.chdir(tmp)
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            code = main(["backtest", str(config), "--from", FIRST, "--to", LAST, "--out",
                         str(out), "--cash", "20000", "--report", "--kpi-style", "course",
                         "--rf", "0.02"])  # fmt: skip
    finally:
        os.chdir(cwd)
    assert code == 0, printed.getvalue()
    journal = out / "journal.sqlite"
    with open_reader(journal) as reader:
        fills = [(f.time, f.symbol, f.side, f.quantity, f.price) for f in reader.fills()]
    with sqlite3.connect(journal) as db:
        (rejections,) = db.execute("SELECT count(*) FROM risk_events").fetchone()
    assert fills and rejections, "the run shows no trades or no rejections: pick another limit"
    return ReportRun(out, tmp, fills, rejections, printed.getvalue())
