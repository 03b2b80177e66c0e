"""Each example config (``config/<strategy>.yaml``) passes ``ibbot check`` and trades end to end:
the daemon in-process, its embedded simulated gateway replaying the shipped sample (seed 1) as
fast as the bot reads, over a short span that holds a trade for that strategy. Deterministic:
the same span gives the same orders on every run."""

from __future__ import annotations

import argparse
import asyncio
from datetime import datetime
from pathlib import Path

import pytest
from e2e_support import ROOT, journal_rows

from bot.commands import check
from bot.config.load import load_config
from bot.live.daemon import Daemon, RunOptions

STRATEGIES = [
    "bollinger_breakout",
    "macd_stochastic",
    "opening_range_breakout",
    "rsi_reversion",
    "sma_crossover",
]

# (start, end) of the replay, UTC: 09:30 to 10:00 New York on a day where the strategy trades
# in its first bars (found by replaying whole days; 15-minute strategies enter at 09:45).
SPANS = {
    "bollinger_breakout": ("2026-10-20T13:30Z", "2026-10-20T14:00Z"),
    "macd_stochastic": ("2026-10-20T13:30Z", "2026-10-20T14:00Z"),
    "opening_range_breakout": ("2026-10-20T13:30Z", "2026-10-20T14:00Z"),
    "rsi_reversion": ("2026-10-05T13:30Z", "2026-10-05T14:00Z"),
    "sma_crossover": ("2026-10-20T13:30Z", "2026-10-20T14:00Z"),
}


@pytest.fixture(autouse=True)
def in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)  # the examples name data/sample relative to the repository


@pytest.mark.parametrize("name", [*STRATEGIES, "demo"])
def test_example_config_passes_check(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    path = Path("config") / f"{name}.yaml"
    assert check.run(argparse.Namespace(config=path)) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"# {path}: OK (")
    cfg = load_config(path)
    assert cfg.gateway is not None  # runs on the simulated gateway, no IB account needed
    if name != "demo":
        assert [s.class_ for s in cfg.strategies] == [name]


async def run_example(name: str, start: str, end: str, tmp: Path) -> tuple[Daemon, int]:
    """``ibbot run config/<name>.yaml`` in-process, at max speed, from ``start`` to ``end``."""
    cfg = load_config(Path("config") / f"{name}.yaml")
    assert cfg.gateway is not None
    gateway = cfg.gateway.model_copy(update={"start": datetime.fromisoformat(start), "speed": 0})
    journal = cfg.journal.model_copy(update={"path": tmp / "journal.sqlite"})
    cfg = cfg.model_copy(update={"gateway": gateway, "journal": journal})
    options = RunOptions(
        handle_signals=False, print_summary=False, gateway_end=datetime.fromisoformat(end)
    )
    daemon = Daemon(cfg, options)
    code = await asyncio.wait_for(daemon.run(), 60)
    return daemon, code


@pytest.mark.parametrize("name", STRATEGIES)
async def test_strategy_trades_end_to_end_on_the_sample(name: str, tmp_path: Path) -> None:
    daemon, code = await run_example(name, *SPANS[name], tmp_path)
    assert code == 0
    assert daemon.stop_reason == "end of the simulated gateway's data"
    assert daemon.router is not None
    (slot,) = daemon.router.slots.values()
    assert slot.enabled and slot.errors == 0, f"{slot.id} failed: see the log"
    assert slot.bars > 0
    journal = tmp_path / "journal.sqlite"
    orders = journal_rows(journal, f"SELECT COUNT(*) FROM orders WHERE strategy_id = '{slot.id}'")
    fills = journal_rows(journal, f"SELECT COUNT(*) FROM fills WHERE strategy_id = '{slot.id}'")
    assert orders[0][0] >= 1 and fills[0][0] >= 1
    assert slot.fills >= 1


async def test_opening_range_breakout_trades_again_the_day_after_its_kill_switch(
    tmp_path: Path,
) -> None:
    """The cut-off ends Tuesday (the risk stage's halt_at: flatten, halt); the halt lifts for
    Wednesday. The strategy itself sends no KillSwitch any more."""
    name = "opening_range_breakout"
    daemon, code = await run_example(name, "2026-10-20T13:30Z", "2026-10-21T14:00Z", tmp_path)
    assert code == 0
    assert daemon.router is not None and daemon.router.counters.kills == []
    journal = tmp_path / "journal.sqlite"
    entries = journal_rows(
        journal, "SELECT substr(time, 1, 10) FROM intents WHERE kind = 'PlaceBracket'"
    )
    days = sorted({day for (day,) in entries})
    assert days == ["2026-10-20", "2026-10-21"]
    events = journal_rows(
        journal,
        "SELECT time, kind, reason FROM risk_events WHERE kind IN ('hold', 'release') ORDER BY id",
    )
    assert [(kind, reason) for _, kind, reason in events] == [
        ("hold", "halt_at 15:45 exchange time"),
        ("release", "its time is up (a new trading day)"),
    ]
    assert events[1][0] >= "2026-10-21T13:30"
