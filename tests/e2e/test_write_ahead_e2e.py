"""The write-ahead journal with the daemon in-process against the simulated gateway: a
nextValidId rollback (the gateway's fault injection) confuses no order with another, and a
journal that cannot be written stops new orders and the daemon (exit 1)."""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from e2e_support import PAPER, journal_rows, start_gateway
from fault_support import check_invariants, start_run, until_trading, walk
from support.waiting import wait_until

from bot.gateway.server import Gateway
from bot.live.supervisor import ConnState

STEPS = [
    {"bar": 1, "symbol": "AAPL", "kind": "buy", "qty": 10, "tag": "e1"},
    {"bar": 2, "symbol": "MSFT", "kind": "buy", "qty": 5, "tag": "e2"},
    {"bar": 4, "symbol": "AAPL", "kind": "sell", "qty": 4, "tag": "x1"},
    {"bar": 5, "symbol": "MSFT", "kind": "sell", "qty": 5, "tag": "x2"},
]


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = await start_gateway()
    yield gw
    await gw.stop()


async def test_a_next_valid_id_rollback_confuses_no_order(
    gateway: Gateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    run = await start_run(gateway, tmp_path, STEPS)
    await walk(gateway, 150)  # e1 and e2 filled
    assert len(gateway.broker.executions(PAPER)) == 2
    # The reconnect's nextValidId is 50 below the truth (1): ib_insync's sequence, past the
    # reconnect's own requests, lands on the ids of e1 and e2 again.
    gateway.fault("rollback_next_id", by=50)
    gateway.fault("disconnect_all")
    await wait_until(lambda: run.daemon.supervisor.state is ConnState.RECONNECTING,  # type: ignore[union-attr]
                     what="the supervisor reconnecting")  # fmt: skip
    end = gateway.clock.now()
    await until_trading(run)
    assert gateway.faults.id_rollback == 0  # the rolled-back id was sent
    stale = run.daemon.ib.client._reqIdSeq  # what ib_insync alone would hand out next
    await walk(gateway, 180)  # x1 and x2
    await check_invariants(run, gateway, end, caplog.text)
    snaps = gateway.broker.completed_orders(PAPER)
    by_ref = {s.order.orderRef.split(":")[3]: s.order.orderId for s in snaps}
    assert sorted(by_ref) == ["e1", "e2", "x1", "x2"]
    assert stale <= by_ref["e2"]  # the rollback was real: a new order could have reused an id
    assert len(set(by_ref.values())) == 4 and by_ref["x1"] > by_ref["e2"]
    assert {s.order_state.status for s in snaps} == {"Filled"}
    execs = [(r.execution.orderRef.split(":")[3], r.execution.side, r.execution.shares)
             for r in gateway.broker.executions(PAPER)]  # fmt: skip
    assert execs == [("e1", "BOT", 10), ("e2", "BOT", 5), ("x1", "SLD", 4), ("x2", "SLD", 5)]
    assert "Duplicate order id" not in caplog.text and "IB rejected" not in caplog.text
    assert await run.stop() == 0
    rows = journal_rows(tmp_path / "journal.sqlite", "SELECT tag, order_id, status FROM orders")
    assert sorted(rows) == sorted((tag, oid, "Filled") for tag, oid in by_ref.items())
    fills = journal_rows(tmp_path / "journal.sqlite", "SELECT tag, quantity FROM fills")
    assert sorted(fills) == [("e1", 10), ("e2", 5), ("x1", 4), ("x2", 5)]


@pytest.mark.parametrize("first_write", ["order", "timer"])
async def test_a_journal_that_cannot_be_written_stops_new_orders_and_the_daemon(
    first_write: str, gateway: Gateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The first failed write is x1's order row (its write-ahead line, on a full disk), or
    the commit timer's batch of statuses and events (SQLite's)."""
    caplog.set_level(logging.INFO)
    run = await start_run(gateway, tmp_path, STEPS)
    await walk(gateway, 150)  # e1 and e2 filled
    journal = run.daemon.journal
    assert journal is not None
    if first_write == "order":
        journal.commit_interval = 3600.0
        journal.flush()
        assert journal._ahead is not None and journal._ahead._fd is not None  # e1's, e2's
        full = os.open("/dev/full", os.O_WRONLY)  # every write: ENOSPC, as on a full disk
        os.dup2(full, journal._ahead._fd)
        os.close(full)
    journal._db.execute("PRAGMA query_only = 1")  # as on a read-only file: every write fails
    if first_write == "timer":  # its batch fails before x1's bar (orders append to a file)
        journal.record_event("note", "a row for the commit timer", datetime.now(UTC))
        await wait_until(lambda: journal.failure is not None, what="the commit timer's failure")
    for _ in range(60):  # until x1's bar: its order cannot be journalled
        await walk(gateway, 5)
        if run.task.done():
            break
    assert await asyncio.wait_for(run.task, 10) == 1
    assert len(gateway.broker.completed_orders(PAPER)) == 2  # nothing new reached the broker
    assert not gateway.broker.open_orders(PAPER)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    words = {"order": "No space left on device",
             "timer": "attempt to write a readonly database"}[first_write]  # fmt: skip
    assert any(str(journal.path) in e and words in e
               and "no new order will be sent" in e for e in errors)  # fmt: skip
    assert run.daemon.stop_reason.startswith(f"error: journal {journal.path} cannot be written")
    assert run.daemon.router is not None and run.daemon.router.risk.paused("journal")
    rejected = [r.reason for r in run.strategy.rejections]
    if first_write == "order":
        assert rejected and rejected[0].startswith("journal: journal ")  # x1, not sent
    assert all(r.startswith("journal: ") for r in rejected)  # any later intent: the gate's
    assert "Exception in callback" not in caplog.text
