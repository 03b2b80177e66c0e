"""Structured logs: JSON lines carry strategy, symbol and orderRef where known; the file
rotates; registered secrets never appear; rejection reasons map to bounded labels."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from bot.ops.metrics import reason_label
from bot.runtime.logs import log_context, redact, setup_logging


@pytest.fixture
def restore_root() -> Iterator[None]:
    root = logging.getLogger()
    saved = root.handlers[:], root.level
    yield
    root.handlers[:] = saved[0]
    root.setLevel(saved[1])


def test_json_lines_rotation_and_redaction(tmp_path: Path, restore_root: None) -> None:
    path = tmp_path / "logs" / "ibbot.log"
    setup_logging("INFO", "json", file=path, max_bytes=2000, backups=2)
    log = logging.getLogger("bot.test")
    redact("tok-123")
    with log_context("s1", "AAPL"):
        log.info("inside a strategy call")
    log.info("status of ibbot:s2:MSFT:e1:7 Filled")
    log.info("explicit", extra={"strategy_id": "s3", "symbol": "EUR.USD"})
    log.warning("POST https://api.telegram.org/bottok-123/sendMessage failed")
    for h in logging.getLogger().handlers:
        h.flush()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert (lines[0]["strategy_id"], lines[0]["symbol"]) == ("s1", "AAPL")
    assert lines[1]["order_ref"] == "ibbot:s2:MSFT:e1:7"
    assert (lines[1]["strategy_id"], lines[1]["symbol"]) == ("s2", "MSFT")
    assert (lines[2]["strategy_id"], lines[2]["symbol"]) == ("s3", "EUR.USD")
    assert "strategy_id" not in lines[3] and "/bot***/sendMessage" in lines[3]["message"]
    for i in range(100):
        log.info("filler line %d to make the file rotate", i)
    files = sorted(p.name for p in path.parent.iterdir())
    assert files == ["ibbot.log", "ibbot.log.1", "ibbot.log.2"]
    assert all("tok-123" not in p.read_text() for p in path.parent.iterdir())


@pytest.mark.parametrize(("reason", "label"), [
    ("max_position 1000 exceeded for AAPL: position 0 + order 5000", "max_position"),
    ("max_order_notional 100000 exceeded for AAPL: order 5000 x 230.00", "max_order_notional"),
    ("kill switch active for s1: stop; only exits are accepted", "kill_switch"),
    ("IB rejected the order: 201 margin", "ib"),
    ("something new", "other"),
])  # fmt: skip
def test_reason_labels_are_bounded(reason: str, label: str) -> None:
    assert reason_label(reason) == label
