"""report.html and its PNGs for a finished run (the report_run fixture), and ``ibbot report``
on bad folders."""

from __future__ import annotations

import bisect
import json
import re
import shutil
from datetime import timedelta
from pathlib import Path

import pytest
from report_run import REJECTED, ReportRun

from bot.backtest import charts
from bot.backtest.run_files import read_run
from bot.cli import main

CHROMIUM = shutil.which("chromium") is not None


def test_the_report_is_one_self_contained_page(report_run: ReportRun) -> None:
    page = (report_run.out / "report.html").read_text()
    assert f"wrote {report_run.out}/report.html" in report_run.printed
    # plotly.js is inlined: no script or stylesheet is loaded from anywhere
    assert not re.search(r"<script[^>]+src=", page) and "<link rel=\"stylesheet\"" not in page
    assert page.count("Plotly.newPlot") == 2 + 4  # equity, drawdown, one price chart a symbol
    for heading in ("KPIs", "Per symbol", "Monthly returns (total)", "Risk rejections"):
        assert f"<h2>{heading}" in page
    assert REJECTED in page and "max consecutive losses" in page
    assert "course style, risk-free rate 2.00%" in page
    # the monthly table: one month here, October, its return the total equity's over the run
    rows = (report_run.out / "equity.csv").read_text().splitlines()[1:]
    first, last = float(rows[0].split(",")[-1]), float(rows[-1].split(",")[-1])
    month = re.search(r'<table class="monthly">.*?</table>', page, re.S)
    assert month is not None and f">{(last / first - 1) * 100:+.2f}%</td>" in month.group(0)


def test_kpis_json_keeps_its_keys_and_adds_the_new_ones(report_run: ReportRun) -> None:
    total = json.loads((report_run.out / "kpis.json").read_text())["kpis"]["total"]
    for key in ("sharpe", "sortino", "cagr", "max_drawdown", "win_rate", "commissions",
                "max_drawdown_duration", "max_consecutive_losses", "mean_trade_return",
                "turnover", "by_symbol"):  # fmt: skip
        assert key in total, key
    assert total["kpi_style"] == "course" and total["rf"] == 0.02
    assert set(total["by_symbol"]) == {"AAPL", "AMZN", "MSFT", "NVDA"}


def test_price_lines_and_rejections_are_the_runs_data(
    report_run: ReportRun, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(report_run.cwd)  # kpis.json names the config relative to it
    run = read_run(report_run.out)
    assert len(run.risk_events) == report_run.rejections
    (aapl,) = [p for p in run.prices if p.symbol == "AAPL"]
    assert aapl.bar_size == "15 mins" and len(aapl.time) == 5 * 26  # 5 sessions of 26 bars
    # every fill is the backtest's: a market order sent at a bar's close, filled at the next
    # quote, within seconds of that close and near its price
    ends = aapl.time
    mine = [f for f in report_run.fills if f[1] == "AAPL"]
    assert mine
    for t, _, _, _, price in mine:
        i = bisect.bisect_right(ends, t) - 1
        assert i >= 0 and t - ends[i] < timedelta(seconds=5), (t, ends[i])
        assert price == pytest.approx(aapl.close[i], rel=0.002)
    fig = charts.price_figure(aapl, run.fills)
    assert list(fig.data[0].y) == aapl.close
    assert len(fig.data[1].x) + len(fig.data[2].x) == len(mine)  # buys and sells marked
    assert charts.drawdowns([100.0, 110.0, 99.0, 121.0]) == pytest.approx([0, 0, -0.1, 0])


@pytest.mark.skipif(not CHROMIUM, reason="no chromium: kaleido draws the PNGs with it")
def test_pngs_beside_the_page(report_run: ReportRun) -> None:
    names = sorted(p.name for p in report_run.out.glob("*.png"))
    assert names == ["drawdown.png", "equity.png", "price-AAPL.png", "price-AMZN.png",
                     "price-MSFT.png", "price-NVDA.png"]  # fmt: skip
    assert all((report_run.out / n).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" for n in names)


def test_report_refuses_what_is_not_a_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], report_run: ReportRun
) -> None:
    assert main(["report", str(tmp_path / "none")]) == 2
    assert "none: no such run folder" in capsys.readouterr().err
    assert main(["report", str(tmp_path)]) == 2
    assert "kpis.json: missing" in capsys.readouterr().err
    copy = tmp_path / "copy"
    shutil.copytree(report_run.out, copy)
    assert main(["report", str(copy), "--config", str(tmp_path / "gone.yaml")]) == 2
    assert "gone.yaml: the run's config is not found" in capsys.readouterr().err
    (copy / "equity.csv").write_text("time,total\n2026-10-19,abc\n")
    assert main(["report", str(copy)]) == 2
    assert "equity.csv: line 2, column 'total': not a number: 'abc'" in capsys.readouterr().err


def test_without_a_browser_the_page_is_written_and_pngs_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], report_run: ReportRun,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    from bot.backtest import html_report

    def no_browser(*args: object, **kw: object) -> None:
        raise RuntimeError("Browser not found. You can use get_chrome()")

    monkeypatch.setattr(html_report.pio, "write_images", no_browser)
    copy = tmp_path / "copy"
    shutil.copytree(report_run.out, copy, ignore=shutil.ignore_patterns("*.png", "report.html"))
    monkeypatch.chdir(report_run.cwd)
    assert main(["report", str(copy)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == f"wrote {copy}/report.html"
    assert "no PNG charts (RuntimeError: Browser not found" in err and "apt-get install" in err
    assert (copy / "report.html").is_file() and not list(copy.glob("*.png"))


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--rf", "4%"], "argument --rf: bad rate '4%': an annual rate, e.g. 0.04 for 4%"),
        (["--rf", "nan"], "argument --rf: bad rate 'nan'"),
        (["--kpi-style", "fancy"], "argument --kpi-style: invalid choice: 'fancy'"),
    ],
)
def test_bad_kpi_flags_exit_2(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["backtest", "config/sma_crossover.yaml", "--from", "2026-10-20", "--to",
              "2026-10-21", *flags])  # fmt: skip
    assert exc.value.code == 2
    assert message in capsys.readouterr().err
