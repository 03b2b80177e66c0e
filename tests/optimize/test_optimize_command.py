"""``ibbot optimize`` end to end on the shipped sample (2 symbols, 1-5 days, 2-4 parameter
sets): the files, their agreement with plain backtests, determinism across engines and worker
counts, the walk-forward, bad inputs (exit 2, nothing written) and Ctrl-C (exit 1, rows kept)."""

from __future__ import annotations

import csv
import fcntl
import math
import os
import re
import select
import signal
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Mapping
from datetime import date
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel

from bot.backtest.runner import plan, run_backtest
from bot.cli import main
from bot.config.load import load_config
from bot.model.events import Bar, OrderIntent
from bot.research.optimize.tasks import with_params
from bot.strategy.api import Strategy
from bot.strategy.indicators import IndicatorSpec
from bot.strategy.registry import register
from strategies.sma_crossover import SmaCrossoverParams

ROOT = Path(__file__).resolve().parents[2]
GRID = "fast=5..10:5,slow=20..30:10"
DAY1, DAY2 = "2026-10-13", "2026-10-14"


def _config(tmp: Path, extra: str = "") -> Path:
    path = tmp / "sweep.yaml"
    path.write_text(
        "ib: {client_id: 62}\n"
        f"gateway: {{data: {ROOT / 'data' / 'sample'}, "
        f"instruments: {ROOT / 'config' / 'instruments.yaml'}, cash: 100000}}\n"
        "universe:\n"
        "  defaults: {sec_type: STK, exchange: SMART, currency: USD, primary_exchange: NASDAQ}\n"
        "  symbols: [AAPL, MSFT]\n"
        "strategies:\n"
        "  - {id: sma, class: sma_crossover, symbols: [AAPL, MSFT],\n"
        "     bars: {size: 5 mins, warmup: 1 D}, params: {fast: 5, slow: 20, mode: long_short},\n"
        "     sizing: {capital: 10000}}\n" + extra
    )
    return path


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open() as f:
        return list(csv.DictReader(f))


def _optimize(cfg: Path, out: Path, *more: str) -> int:
    return main(["optimize", str(cfg), "--grid", GRID, "--from", DAY1, "--to", DAY2,
                 "--out", str(out), *more])  # fmt: skip


def test_a_tiny_sweep_writes_results_best_and_report(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _config(tmp_path)
    assert _optimize(cfg, tmp_path / "out", "--workers", "2") == 0
    printed = capsys.readouterr().out
    rows = _rows(tmp_path / "out" / "results.csv")
    assert [(r["fast"], r["slow"]) for r in rows] == [("5", "20"), ("5", "30"), ("10", "20"),
                                                      ("10", "30")]  # fmt: skip
    head = list(rows[0])
    assert head[:4] == ["fast", "slow", "rank", "sharpe"] and "max_drawdown" in head
    assert len(head) == len(set(head))
    assert sorted(int(r["rank"]) for r in rows) == [1, 2, 3, 4]
    by_rank = sorted(rows, key=lambda r: int(r["rank"]))
    sharpes = [float(r["sharpe"]) for r in by_rank]
    assert sharpes == sorted(sharpes, reverse=True)
    best = yaml.safe_load((tmp_path / "out" / "best.yaml").read_text())["params"]
    assert best == {"fast": int(by_rank[0]["fast"]), "slow": int(by_rank[0]["slow"]),
                    "mode": "long_short"}  # fmt: skip
    SmaCrossoverParams.model_validate(best)
    assert "#  fast  slow   sharpe" in printed and "wrote" in printed
    page = (tmp_path / "out" / "report.html").read_text()
    assert '"type":"heatmap"' in page and "sharpe over the grid" in page
    assert not re.search(r"<script[^>]+src=", page)  # plotly.js inlined: self-contained
    assert page.count("Plotly.newPlot") == 1
    assert not list((tmp_path / "out").glob("*.sqlite"))  # no journals in --out
    # Each row is the plain backtest of its parameters.
    plain = load_config(cfg)
    for r in rows[:2]:
        params = {"fast": int(r["fast"]), "slow": int(r["slow"]), "mode": "long_short"}
        p = plan(with_params(plain, "sma", params), date(2026, 10, 13), date(2026, 10, 14),
                 out=tmp_path / f"plain-{r['fast']}-{r['slow']}")  # fmt: skip
        total = run_backtest(p, progress=False).figures["total"]
        assert float(r["sharpe"]) == total["sharpe"] and int(r["trades"]) == total["trades"]
        assert float(r["end_equity"]) == total["end_equity"]


def test_same_results_on_one_or_two_workers_and_on_ray(tmp_path: Path) -> None:
    pytest.importorskip("ray")
    cfg = _config(tmp_path)
    runs = {"one": ("--workers", "1"), "two": ("--workers", "2"),
            "ray": ("--engine", "ray", "--workers", "2")}  # fmt: skip
    for name, flags in runs.items():
        assert _optimize(cfg, tmp_path / name, *flags) == 0
    first = (tmp_path / "one" / "results.csv").read_bytes()
    assert first.count(b"\n") == 5
    for name in runs:
        assert (tmp_path / name / "results.csv").read_bytes() == first, name
        assert (tmp_path / name / "best.yaml").read_bytes() == (
            tmp_path / "one" / "best.yaml"
        ).read_bytes()


def test_refused_combinations_are_skipped_and_counted(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["optimize", str(_config(tmp_path)), "--grid", "fast=10|20|30,slow=20",
                 "--from", DAY1, "--to", DAY1, "--out", str(tmp_path / "o"),
                 "--workers", "1"])  # fmt: skip
    assert code == 0
    printed = capsys.readouterr().out
    assert "3 combinations, 2 skipped (fast (20) must be less than slow (20))" in printed
    assert [r["fast"] for r in _rows(tmp_path / "o" / "results.csv")] == ["10"]
    page = (tmp_path / "o" / "report.html").read_text()
    assert "sharpe by fast" in page  # a 1-D grid: the metric as a line


def test_walk_forward_optimizes_in_sample_and_tests_out_of_sample(tmp_path: Path) -> None:
    cfg, out = _config(tmp_path), tmp_path / "wf"
    code = main(["optimize", str(cfg), "--grid", "fast=5|10,slow=20", "--from", "2026-10-12",
                 "--to", "2026-10-16", "--walk-forward", "3d/1d", "--out", str(out),
                 "--workers", "2"])  # fmt: skip
    assert code == 0
    windows = _rows(out / "walk_forward.csv")
    assert [(w["is_from"], w["is_to"], w["oos_from"], w["oos_to"]) for w in windows] == [
        ("2026-10-12", "2026-10-14", "2026-10-15", "2026-10-15"),
        ("2026-10-13", "2026-10-15", "2026-10-16", "2026-10-16"),
    ]
    rows = _rows(out / "results.csv")
    assert [r["window"] for r in rows] == ["1", "1", "2", "2"]
    plain = load_config(cfg)
    stitched = 100_000.0
    for w in windows:
        mine = [r for r in rows if r["window"] == w["window"]]
        top = next(r for r in mine if r["rank"] == "1")
        assert max(float(r["sharpe"]) for r in mine) == float(w["is_sharpe"])
        assert (top["fast"], top["slow"]) == (w["fast"], w["slow"])
        # The out-of-sample figures are the plain backtest of the winner on that day.
        params = {"fast": int(w["fast"]), "slow": int(w["slow"]), "mode": "long_short"}
        day = date.fromisoformat(w["oos_from"])
        p = plan(with_params(plain, "sma", params), day, day, out=tmp_path / w["window"])
        total = run_backtest(p, progress=False).figures["total"]
        assert float(w["oos_total_return"]) == total["total_return"]
        assert int(w["oos_trades"]) == total["trades"]
        stitched *= 1 + float(w["oos_total_return"])
        assert math.isclose(float(w["stitched_equity"]), stitched, rel_tol=1e-12)
    curve = _rows(out / "oos_equity.csv")
    assert len(curve) == 3 and float(curve[0]["equity"]) == 100_000.0
    assert math.isclose(float(curve[-1]["equity"]), stitched, rel_tol=1e-12)
    best = yaml.safe_load((out / "best.yaml").read_text())["params"]
    assert (best["fast"], best["slow"]) == (int(windows[-1]["fast"]), int(windows[-1]["slow"]))
    page = (out / "report.html").read_text()
    assert "Stitched out-of-sample equity" in page and "Walk-forward" in page


TWO = (
    "  - {id: other, class: sma_crossover, symbols: [MSFT], bars: {size: 5 mins, warmup: 1 D},\n"
    "     sizing: {capital: 10000}}\n"
)


@pytest.mark.parametrize(
    ("flags", "extra", "why"),
    [
        (["--grid", "fast=5|10,slwo=20"], "",
         "strategy 'sma (sma_crossover)' has no parameter 'slwo'; its parameters: fast, slow"),
        (["--grid", "fast=5..x"], "", "a range is a..b:step"),
        (["--grid", "fast=30|40,slow=20"], "", "refuses all 2 combinations"),
        (["--grid", GRID], TWO, "2 enabled strategies (sma, other): name the one"),
        (["--grid", GRID, "--strategy", "nope"], "", "no such strategy; its ids: sma"),
        (["--grid", GRID, "--metric", "sharp"], "", "unknown --metric 'sharp'; one of: end_eq"),
        (["--grid", GRID, "--walk-forward", "3x/1d"], "", "bad --walk-forward '3x/1d'"),
        (["--grid", GRID, "--walk-forward", "5d/5d"], "", "no whole window fits the 2 trading"),
        (["--grid", GRID, "--workers", "0"], "", "--workers must be at least 1"),
        (["--grid", GRID, "--random", "0"], "", "--random must be positive"),
        (["--grid", GRID, "--address", "ray://h:1"], "", "--address is for --engine ray"),
    ],
)
def test_bad_input_exits_2_and_writes_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], flags: list[str], extra: str, why: str
) -> None:
    out = tmp_path / "out"
    code = main(["optimize", str(_config(tmp_path, extra)), "--from", DAY1, "--to", DAY2,
                 "--out", str(out), *flags])  # fmt: skip
    assert code == 2
    assert why in capsys.readouterr().err
    assert not out.exists()


def test_a_range_outside_the_data_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = main(["optimize", str(_config(tmp_path)), "--grid", GRID, "--from", "2030-01-01",
                 "--to", "2030-01-05", "--out", str(tmp_path / "out")])  # fmt: skip
    assert code == 2 and "no trading day with data from 2030-01-01" in capsys.readouterr().err


def test_ray_not_installed_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "ray" else real(name, *a))  # fmt: skip
    assert _optimize(_config(tmp_path), tmp_path / "out", "--engine", "ray") == 2
    assert "--engine ray needs Ray: pip install 'ibbot[ray]'" in capsys.readouterr().err


def _read_tty(fd: int, until: re.Pattern[str] | None, timeout: float) -> str:
    """What a pseudo-terminal's other end printed: up to ``until`` (or its end, EOF)."""
    got = ""
    deadline = time.monotonic() + timeout
    while until is None or not until.search(got):
        left = deadline - time.monotonic()
        assert left > 0, f"timed out waiting for {until} in {got[-500:]!r}"
        if select.select([fd], [], [], left)[0]:
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the other end is closed
                chunk = b""
            if not chunk:
                assert until is None, f"ended without {until}: {got[-500:]!r}"
                return got
            got += chunk.decode(errors="replace")
    return got


def test_ctrl_c_stops_cleanly_and_keeps_the_finished_rows(tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "bot", "optimize", str(_config(tmp_path)),
           "--grid", "fast=2..61,slow=70", "--from", DAY1, "--to", DAY2,
           "--out", str(out), "--workers", "2"]  # fmt: skip
    # stderr on a terminal, so the sweep's progress bar says when a backtest has finished
    tty, their_tty = os.openpty()
    fcntl.ioctl(tty, termios.TIOCSWINSZ, struct.pack("HHHH", 24, 100, 0, 0))  # 0 columns: no bar
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=their_tty, text=True,
                            start_new_session=True)  # fmt: skip
    os.close(their_tty)
    try:
        assert proc.stdout is not None
        assert "60 backtests" in proc.stdout.readline()  # the sweep has started (~10 s of work)
        _read_tty(tty, re.compile(r"\b[1-9]\d*/60\b"), timeout=120)  # a row is done
        os.killpg(proc.pid, signal.SIGINT)  # as a terminal's Ctrl-C: the whole group
        stdout, _ = proc.communicate(timeout=60)
        stderr = _read_tty(tty, None, timeout=10)
    finally:
        os.close(tty)
    assert proc.returncode == 1, stderr
    assert "STOPPED, interrupted (Ctrl-C)" in stderr and "Traceback" not in stderr
    assert f"wrote {out}/results.csv" in stdout
    rows = _rows(out / "results.csv")
    assert 1 <= len(rows) < 60
    assert all(int(r["fast"]) in range(2, 62) and int(r["days"]) == 2 for r in rows)


class _BoomParams(BaseModel):
    n: int = 1


@register("sweep_boom_probe")
class _Boom(Strategy[_BoomParams]):
    """Fails to start when n == 3: a backtest of the sweep that raises."""

    Params = _BoomParams

    def indicators(self) -> Mapping[str, IndicatorSpec]:
        if self.params.n == 3:
            raise RuntimeError("n=3 cannot start")
        return {}

    def on_bar(self, bar: Bar) -> list[OrderIntent]:
        return []


@pytest.mark.parametrize("workers", ["1", "2"])
def test_a_failing_backtest_stops_the_sweep_keeping_the_finished_rows(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], workers: str
) -> None:
    cfg = tmp_path / "boom.yaml"
    cfg.write_text(_config(tmp_path).read_text().replace(
        "class: sma_crossover", "class: sweep_boom_probe").replace(
        "params: {fast: 5, slow: 20, mode: long_short}", "params: {}"))  # fmt: skip
    code = main(["optimize", str(cfg), "--grid", "n=1..6", "--from", DAY1, "--to", DAY1,
                 "--out", str(tmp_path / "o"), "--workers", workers])  # fmt: skip
    err = capsys.readouterr().err
    assert code == 1
    assert ("STOPPED, the backtest of {'n': 3} from 2026-10-13 to 2026-10-13 failed: "
            "RuntimeError: n=3 cannot start") in err  # fmt: skip
    rows = _rows(tmp_path / "o" / "results.csv")
    ns = [r["n"] for r in rows]
    # In order on one worker; on two, 3 starts when 1 or 2 has finished, and the rest stop.
    assert ns == ["1", "2"] if workers == "1" else (ns and "3" not in ns)
