"""A scanned universe end to end: the daemon in-process, its embedded simulated gateway replaying
the shipped sample (seed 1) as fast as the bot reads. ORB with ``scanner: {HIGH_OPEN_GAP, top 3,
at 09:35}`` and no fixed symbols gets exactly the gateway scanner's top 3 at the simulated time of
the scan, warms them up (warm-up bars never trade) and trades them on a day where it trades."""

from __future__ import annotations

import argparse
import asyncio
import logging
from datetime import datetime
from pathlib import Path

import pytest
from e2e_support import ROOT, journal_rows
from ib_insync import ScannerSubscription

from bot.commands import check
from bot.config.load import load_config
from bot.gateway.scanner import run_scan
from bot.live.daemon import Daemon, RunOptions

START, END = "2026-10-20T13:30Z", "2026-10-20T14:30Z"  # 09:30 to 10:30 New York, a Tuesday


@pytest.fixture(autouse=True)
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)


async def test_orb_trades_the_scanners_top_3_at_0935(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, "bot")
    cfg = load_config(Path("config/orb_scanner.yaml"))
    assert cfg.gateway is not None and cfg.universe.symbols == []
    (orb,) = cfg.strategies
    assert orb.scanner is not None
    scanner = orb.scanner.model_copy(update={"top": 3, "at": "09:35"})
    orb = orb.model_copy(update={"scanner": scanner})
    gateway = cfg.gateway.model_copy(update={"start": datetime.fromisoformat(START), "speed": 0})
    journal = tmp_path / "journal.sqlite"
    cfg = cfg.model_copy(
        update={
            "gateway": gateway,
            "strategies": [orb],
            "journal": cfg.journal.model_copy(update={"path": journal}),
        }
    )
    options = RunOptions(
        handle_signals=False, print_summary=False, gateway_end=datetime.fromisoformat(END)
    )
    daemon = Daemon(cfg, options)
    assert await asyncio.wait_for(daemon.run(), 60) == 0
    assert daemon.stop_reason == "end of the simulated gateway's data"

    # The scan: once, at the first market time from 09:35 New York, logged and journalled.
    ((scanned_at, text),) = journal_rows(
        journal, "SELECT time, message FROM events WHERE kind = 'scan'"
    )
    at = datetime.fromisoformat(scanned_at)
    assert "2026-10-20T13:35:00+00:00" <= scanned_at < "2026-10-20T13:36:00+00:00"
    # What the gateway's own scanner ranks top 3 at that simulated time.
    gw = daemon.gateway
    sub = ScannerSubscription(
        instrument="STK", locationCode="STK.US.MAJOR", scanCode="HIGH_OPEN_GAP", numberOfRows=3
    )
    expected = [r.instrument.symbol for r in run_scan(gw.market, gw.instruments, sub, at)]
    assert len(expected) == 3
    assert text == f"scanner HIGH_OPEN_GAP 2026-10-20: top 3 {', '.join(expected)}"
    assert f"orb-scan: {text}" in caplog.messages

    # They are the strategy's symbols, qualified, subscribed and warmed up.
    assert daemon.router is not None and daemon.feed is not None
    slot = daemon.router.slots["orb-scan"]
    assert slot.ctx.symbols == tuple(expected) and slot.symbols == set(expected)
    assert sorted(daemon.infos) == sorted(expected)
    assert {k.symbol for k in daemon.feed.streams} == set(expected)
    strategy = slot.strategy
    for sym in expected:  # previous days' volumes and today's 09:30 bar came as warm-up
        assert len(strategy._history[sym]) == 4, sym  # type: ignore[attr-defined]
    assert daemon.feed.warmup_bars > 0
    assert slot.enabled and slot.errors == 0

    # And ORB trades them, only after the scan and only in them.
    orders = journal_rows(
        journal,
        "SELECT time, symbol FROM intents WHERE strategy_id = 'orb-scan' AND kind = 'PlaceBracket'",
    )
    assert orders, "ORB placed no bracket on the scanned universe"
    assert all(t > scanned_at and sym in expected for t, sym in orders)
    fills = journal_rows(journal, "SELECT COUNT(*) FROM fills WHERE strategy_id = 'orb-scan'")
    assert fills[0][0] >= 1


def test_the_scanner_example_passes_check(capsys: pytest.CaptureFixture[str]) -> None:
    path = Path("config/orb_scanner.yaml")
    assert check.run(argparse.Namespace(config=path)) == 0
    assert capsys.readouterr().out.startswith(
        f"# {path}: OK (1 strategy, 0 symbols, daily scan HIGH_OPEN_GAP top 5 at 09:35);"
    )
