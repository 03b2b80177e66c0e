"""The sweep's report.html in headless Chromium (the ``browser`` fixture, tests/conftest.py):
the heatmap of a 2-D sweep and the walk-forward's stitched equity draw, with no console
error, from a real sweep of the sample."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from test_optimize_command import _config

from bot.cli import main

CHARTS = (
    "return [...document.querySelectorAll('.plotly-graph-div')].map(d => "
    "[d.querySelectorAll('svg.main-svg').length, d.querySelectorAll('.heatmaplayer image,"
    " .hm image, .heatmaplayer .hm').length, d.querySelectorAll('.scatterlayer .trace').length])"
)


def _open(browser: Any, page: Path) -> list[list[int]]:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get(page.as_uri())
    WebDriverWait(browser, 30).until(
        lambda d: (got := d.execute_script(CHARTS)) and all(svgs for svgs, _, _ in got)
    )
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == [], errors
    charts: list[list[int]] = browser.execute_script(CHARTS)
    return charts


def test_the_heatmap_and_the_stitched_equity_render(tmp_path: Path, browser: Any) -> None:
    cfg = _config(tmp_path)
    grid = ["--grid", "fast=5..10:5,slow=20..30:10", "--workers", "1"]
    assert main(["optimize", str(cfg), *grid, "--from", "2026-10-13", "--to", "2026-10-14",
                 "--out", str(tmp_path / "sweep")]) == 0  # fmt: skip
    [(svgs, heat, _)] = _open(browser, tmp_path / "sweep" / "report.html")
    assert svgs and heat  # one chart: the heatmap, drawn
    assert main(["optimize", str(cfg), "--grid", "fast=5|10,slow=20", "--workers", "1",
                 "--from", "2026-10-12", "--to", "2026-10-14", "--walk-forward", "2d/1d",
                 "--out", str(tmp_path / "wf")]) == 0  # fmt: skip
    [(svgs, _, traces)] = _open(browser, tmp_path / "wf" / "report.html")
    assert svgs and traces == 1  # the stitched out-of-sample equity
