"""/health's journal condition: a journal whose writes fail is a 503 with the journal's own
words, even for root, whom a file's permissions never refuse (CI runs as root)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from types import SimpleNamespace
from typing import Any, cast

import pytest
from ib_insync import MarketOrder

from bot.journal.store import Journal, JournalError
from bot.live.supervisor import ConnState, ConnStatus
from bot.model.events import OrderSpec, Side
from bot.ops.freshness import BarClock
from bot.ops.state import RiskState
from bot.ops.view import DaemonView

NOW = datetime(2026, 10, 29, 15, 0, tzinfo=UTC)


class Connected:
    def connection(self) -> ConnStatus:
        return ConnStatus(ConnState.CONNECTED, NOW, "live", False, 0, {"market data:usfarm": "ok"})

    def risk_states(self) -> dict[str, RiskState]:
        return {}


def view(journal: Journal) -> DaemonView:
    daemon: Any = SimpleNamespace(journal=journal, feed=None, infos={})
    return DaemonView(cast(Any, daemon), Connected(), BarClock(), None, lambda: NOW)


def test_a_failed_journal_write_makes_health_503_naming_the_journal(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.begin_run(now=NOW, account="DU1", mode="paper", dry_run=False)
    assert view(journal).health().ok
    journal._db.execute("PRAGMA query_only = 1")  # every write fails, as on a full disk
    journal.record_event("test", "a row to write", NOW)
    journal.flush()
    health = view(journal).health()
    assert not health.ok
    (reason,) = health.reasons
    assert reason.startswith(f"journal {journal.path} cannot be written")
    journal.close()


def test_a_failed_write_ahead_line_makes_health_503_naming_its_file(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "j.sqlite")
    journal.begin_run(now=NOW, account="DU1", mode="paper", dry_run=False)
    ahead = tmp_path / "j.sqlite-ahead"
    ahead.mkdir()  # the file cannot be opened: as good as a full disk for every writer
    order = MarketOrder("BUY", 1)
    with pytest.raises(JournalError):
        journal.record_order(ref="r", strategy_id="s1", symbol="AAPL", tag="t", seq=1,
                             order=order, spec=OrderSpec(Side.BUY, 1), now=NOW,
                             write_ahead=True)  # fmt: skip
    (reason,) = view(journal).health().reasons
    assert reason.startswith(f"journal {journal.path} cannot be written: IsADirectoryError")
    assert str(ahead) in reason
    ahead.rmdir()
    journal.close()
