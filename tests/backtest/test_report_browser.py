"""report.html in a real browser (the ``browser`` fixture of tests/conftest.py: headless
Chromium, Debian's ``chromium`` and ``chromium-driver``, which .ci/run installs) opens the file
offline, every chart has drawn its SVG with its traces, the console shows no error, and the
page's screenshot is saved as report.png (in docs/ by docs/screenshots: the README shows it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from report_run import ReportRun

CHARTS = 6  # equity, drawdown, and the price of each of the run's four symbols


def test_every_chart_renders_without_console_errors(
    report_run: ReportRun, browser: Any, screenshots: Path
) -> None:
    from selenium.webdriver.support.ui import WebDriverWait

    browser.get((report_run.out / "report.html").as_uri())
    drawn = (
        "return [...document.querySelectorAll('.plotly-graph-div')].map(d => "
        "[d.querySelectorAll('svg.main-svg').length, d.querySelectorAll('.scatterlayer .trace')"
        ".length, d.id])"
    )
    WebDriverWait(browser, 30).until(
        lambda d: len(got := d.execute_script(drawn)) == CHARTS and all(n for n, _, _ in got)
    )
    charts = browser.execute_script(drawn)
    assert [traces for _, traces, _ in charts] == [2, 2, 3, 3, 3, 3]  # lines, then price+buy+sell
    errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
    assert errors == [], errors
    assert browser.execute_script("return typeof Plotly") == "object"  # the inlined plotly.js
    for _ in range(2):  # the charts re-lay themselves out at the new size: measure again
        height = browser.execute_script(
            "return document.documentElement.scrollHeight + window.outerHeight - window.innerHeight"
        )
        browser.set_window_size(1280, height)
    shot = screenshots / "report.png"
    assert browser.save_screenshot(str(shot))
    assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
