"""The status page in headless Chromium against a daemon on the simulated gateway: it draws
its tables from /api/status, refreshes them live (a fill appears without a reload), shows no
console error and loads nothing from outside; its screenshot is status.png (in docs/ by
docs/screenshots: the README shows it)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import e2e_strategies  # noqa: F401 (registers e2e_scripted)
import pytest
from e2e_support import advance, start_gateway
from ops_support import ops_config, start, url
from support.waiting import wait_until

from bot.gateway.server import Gateway
from bot.ops.status_page import PAGE


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = await start_gateway()
    yield gw
    await gw.stop()


def test_the_page_needs_nothing_from_outside() -> None:
    assert "http://" not in PAGE and "https://" not in PAGE and "src=" not in PAGE


async def test_status_page_refreshes_live(
    gateway: Gateway, tmp_path: Path, browser: Any, caplog: pytest.LogCaptureFixture,
    screenshots: Path,
) -> None:
    caplog.set_level(logging.INFO)  # as ibbot run logs
    steps = [{"bar": 1, "symbol": "AAPL", "kind": "buy", "qty": 10, "tag": "e1"},
             {"bar": 3, "symbol": "MSFT", "kind": "bracket", "qty": 5, "tag": "br"}]
    d, task = await start(ops_config(tmp_path, gateway.port, steps))
    try:
        await asyncio.to_thread(browser.get, url(d, "/status"))

        def text_of(el_id: str) -> str:
            return str(browser.execute_script(f"return document.getElementById('{el_id}')"
                                              ".innerText"))

        await wait_until(lambda: "healthy" in text_of("health"), 15, what="page drawn")
        assert "none" in text_of("fills_today")
        assert text_of("connection").startswith("IB connected since ")  # the supervisor's
        await advance(gateway, 4)
        await wait_until(lambda: d.router is not None and d.router.counters.fills >= 1, what="fill")
        # No reload: the page's poll brings the fill and the position.
        await wait_until(lambda: "e1" in text_of("fills_today"), 15, what="fill on the page")
        assert "AAPL" in text_of("positions") and "10" in text_of("positions")
        assert "s1" in text_of("strategies") and "ACTIVE" in text_of("risk")
        await wait_until(lambda: "br" in text_of("working_orders"), 15, what="bracket legs shown")
        assert "AAPL 1 min" in text_of("feeds")
        assert "ops endpoint on" in text_of("log")
        errors = [e for e in browser.get_log("browser") if e["level"] in ("SEVERE", "ERROR")]
        assert errors == [], errors
        height = browser.execute_script("return document.documentElement.scrollHeight")
        browser.set_window_size(1100, min(int(height) + 140, 1600))
        await asyncio.sleep(0.1)
        shot = screenshots / "status.png"
        assert browser.save_screenshot(str(shot))
        assert shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    finally:
        d.request_stop("test over")
        assert await task == 0
