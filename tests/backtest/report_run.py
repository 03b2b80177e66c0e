"""A finished backtest folder for the report tests, made in about a second: ``ibbot backtest
--report`` runs for real except for the replay itself, which journals a known list of fills
(at the sample's real 15-minute closes) and risk rejections instead of running the daemon."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from bot.cli import main

ROOT = Path(__file__).resolve().parents[2]
CONFIG = "config/sma_crossover.yaml"  # AAPL, MSFT, NVDA, AMZN on 15-minute bars
FIRST, LAST = "2026-10-19", "2026-10-23"


@dataclass(frozen=True)
class ReportRun:
    out: Path
    fills: list[tuple[datetime, str, str, float, float]]  # time, symbol, side, qty, price
    rejections: int
    printed: str


def _fake_replay(fills: list[Any], rejections: list[str]) -> Any:
    async def replay(p: Any, **_: Any) -> tuple[int, Any]:
        from bot.events import Rejection, TargetPosition
        from bot.journal import Journal
        from bot.lifecycle import END_OF_DATA

        p.out.mkdir(parents=True, exist_ok=True)
        j = Journal(p.journal_path)
        j.begin_run(now=p.start, account="DU1", mode="paper", dry_run=False)
        sym_by_con = {inst.con_id: name for name, inst in p.instruments.items()}
        for con_id, name in sym_by_con.items():
            bars = p.market.historical_bars(con_id, p.end, f"{len(p.days)} D", "15 mins",
                                            "TRADES", True, p.end)  # fmt: skip
            for n, b in enumerate(bars[5::12]):  # every 12th bar's close, alternating sides
                side, when = ("BUY", "SELL")[n % 2], b.date + timedelta(minutes=15)
                fills.append((when, name, side, 10.0, float(b.close)))
                j.record_fill(exec_id=f"{name}{n}", ref=f"{name}-{n}", strategy_id="sma-cross",
                              symbol=name, tag="entry", order_id=n, side=side, quantity=10.0,
                              price=float(b.close), commission=1.0, time=when)  # fmt: skip
        for n, reason in enumerate(rejections):
            intent = TargetPosition("AAPL", 500.0)
            j.record_rejection(Rejection("sma-cross", intent, reason, p.start.replace(hour=15 + n)))
        j.end_run(now=p.end)
        j.close()
        return 0, SimpleNamespace(
            stop_reason=END_OF_DATA, gateway=None, account=None,
            net_liquidation=lambda: None, bars=0, loop_seconds=0.0,
        )  # fmt: skip

    return replay


@pytest.fixture(scope="session")
def report_run(tmp_path_factory: pytest.TempPathFactory) -> ReportRun:
    import contextlib
    import io
    import os

    from bot.backtest import runner

    out = tmp_path_factory.mktemp("report") / "bt"
    fills: list[Any] = []
    rejections = ["max_position 1000 exceeded: 500 + 600", "max_order_notional 10000 exceeded"]
    mp = pytest.MonkeyPatch()
    mp.setattr(runner, "replay_inprocess", _fake_replay(fills, rejections))
    cwd = os.getcwd()
    os.chdir(ROOT)  # the config names data/sample relative to the repository
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            code = main(["backtest", CONFIG, "--from", FIRST, "--to", LAST, "--out", str(out),
                         "--cash", "20000", "--report", "--kpi-style", "course",
                         "--rf", "0.02"])  # fmt: skip
    finally:
        os.chdir(cwd)
        mp.undo()
    assert code == 0, printed.getvalue()
    return ReportRun(out, fills, len(rejections), printed.getvalue())
