"""Journal: schema, WAL, round trip of every record kind, batching, restart state."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ib_insync import Order

from bot.events import OrderSpec, OrderType, PlaceOrder, Rejection, Side
from bot.journal import SCHEMA_VERSION, Journal, JournalError, dry_run_path

NOW = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)


def order_row(j: Journal, ref: str, seq: int, symbol: str = "AAPL", sid: str = "s1") -> None:
    o = Order(orderId=7, action="BUY", totalQuantity=10, orderType="LMT", lmtPrice=99.5,
              tif="DAY", orderRef=ref)  # fmt: skip
    spec = OrderSpec(Side.BUY, 10, OrderType.LIMIT, limit_price=99.5)
    j.record_order(ref=ref, strategy_id=sid, symbol=symbol, tag="entry", seq=seq, order=o,
                   spec=spec, now=NOW)  # fmt: skip


def fill_row(
    j: Journal, exec_id: str, side: str, qty: float, symbol: str = "AAPL", sid: str = "s1"
) -> None:
    j.record_fill(
        exec_id=exec_id, ref="r", strategy_id=sid, symbol=symbol, tag="entry", order_id=7,
        side=side, quantity=qty, price=100.0, commission=0.0, time=NOW,
    )  # fmt: skip


def test_schema_is_versioned_and_wal(tmp_path: Path) -> None:
    j = Journal(tmp_path / "sub" / "j.sqlite")
    assert j.schema_version == SCHEMA_VERSION
    assert j.query("PRAGMA journal_mode") == [("wal",)]
    j.close()
    db = sqlite3.connect(tmp_path / "sub" / "j.sqlite")
    db.execute("UPDATE meta SET value = ? WHERE key = 'schema_version'", (SCHEMA_VERSION + 1,))
    db.commit()
    db.close()
    with pytest.raises(JournalError, match="newer than this bot's"):
        Journal(tmp_path / "sub" / "j.sqlite")


def test_dry_run_path() -> None:
    assert dry_run_path(Path("runs/journal.sqlite")) == Path("runs/journal.dry.sqlite")


def test_round_trip_of_every_record(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    run = j.begin_run(now=NOW, account="DU1", mode="paper", dry_run=False, config="x: 1")
    intent = PlaceOrder("AAPL", OrderSpec(Side.BUY, 10, OrderType.LIMIT, limit_price=99.5))
    j.record_intent("s1", intent, NOW)
    j.record_rejection(Rejection("s1", intent, "max_position 5 exceeded", NOW))
    j.record_risk_event("kill", "daily loss", NOW, strategy_id=None)
    order_row(j, "ibbot:s1:AAPL:entry:1", 1)
    j.record_status(ref="ibbot:s1:AAPL:entry:1", order_id=7, perm_id=555, status="Filled",
                    filled=10, remaining=0, avg_fill_price=99.4, now=NOW)  # fmt: skip
    fill_row(j, "e1", "BUY", 10)
    j.record_commission("e1", 1.0, -3.5)
    j.record_event("connect", "connected to 127.0.0.1:4002", NOW, data={"client_id": 1})
    j.end_run(now=NOW, summary="1 order")
    j.close()

    j = Journal(tmp_path / "j.sqlite")
    assert j.query("SELECT id, account, mode, dry_run, config, ended, summary FROM runs") == [
        (run, "DU1", "paper", 0, "x: 1", NOW.isoformat(), "1 order")
    ]
    ((sid, sym, kind, data),) = j.query("SELECT strategy_id, symbol, kind, data FROM intents")
    assert (sid, sym, kind) == ("s1", "AAPL", "PlaceOrder")
    assert json.loads(data)["order"] == {
        "action": "BUY", "quantity": 10, "order_type": "LMT", "limit_price": 99.5,
        "stop_price": None, "trail_amount": None, "trail_percent": None, "tif": None,
        "outside_rth": None,
    }  # fmt: skip
    assert j.query("SELECT kind, reason FROM risk_events ORDER BY id") == [
        ("rejection", "max_position 5 exceeded"),
        ("kill", "daily loss"),
    ]
    assert j.query(
        "SELECT order_id, perm_id, action, order_type, quantity, lmt_price, aux_price, status, "
        "filled, avg_fill_price, run_id FROM orders"
    ) == [(7, 555, "BUY", "LMT", 10.0, 99.5, None, "Filled", 10.0, 99.4, run)]
    assert j.query("SELECT status, message FROM order_events ORDER BY id") == [
        ("New", "BUY 10 LMT lmt 99.5"),
        ("Filled", ""),
    ]
    assert j.query("SELECT exec_id, side, quantity, commission, realized_pnl FROM fills") == [
        ("e1", "BUY", 10.0, 1.0, -3.5)
    ]
    assert j.query("SELECT kind, data FROM events") == [("connect", '{"client_id": 1}')]
    j.close()


def test_restart_restores_sequences_positions_and_exec_ids(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    order_row(j, "ibbot:s1:AAPL:entry:1", 1)
    order_row(j, "ibbot:s1:AAPL:entry:4", 4)
    order_row(j, "ibbot:s1:MSFT:entry:2", 2, symbol="MSFT")
    order_row(j, "ibbot:s2:AAPL:entry:9", 9, sid="s2")
    fill_row(j, "e1", "BUY", 30)
    fill_row(j, "e2", "SELL", 10)
    fill_row(j, "e2", "SELL", 10)  # same execId again: ignored
    fill_row(j, "e3", "SELL", 5, symbol="MSFT")
    fill_row(j, "e4", "BUY", 5, symbol="MSFT")  # flat: not listed
    fill_row(j, "e5", "SELL", 7, sid="s2")
    j.close()
    j = Journal(tmp_path / "j.sqlite")
    assert j.sequences() == {("s1", "AAPL"): 4, ("s1", "MSFT"): 2, ("s2", "AAPL"): 9}
    assert j.positions() == {("s1", "AAPL"): 20.0, ("s2", "AAPL"): -7.0}
    assert j.exec_ids() == {"e1", "e2", "e3", "e4", "e5"}
    j.close()


def test_writes_are_batched_not_committed_per_row(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite", max_pending=5)
    other = sqlite3.connect(tmp_path / "j.sqlite")
    for i in range(4):
        j.record_event("e", str(i), NOW)
    assert other.execute("SELECT COUNT(*) FROM events").fetchone() == (0,)
    j.record_event("e", "4", NOW)  # the fifth row: batch full, one commit
    assert other.execute("SELECT COUNT(*) FROM events").fetchone() == (5,)
    other.close()
    j.close()


async def test_the_loop_timer_commits_the_batch(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite", commit_interval=0.01)
    other = sqlite3.connect(tmp_path / "j.sqlite")
    j.record_event("e", "x", NOW)
    assert other.execute("SELECT COUNT(*) FROM events").fetchone() == (0,)
    await asyncio.sleep(0.05)
    assert other.execute("SELECT COUNT(*) FROM events").fetchone() == (1,)
    other.close()
    j.close()


def test_modify_updates_the_order_row_and_appends_history(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    o = Order(orderId=3, action="SELL", totalQuantity=10, orderType="STP", auxPrice=95.0)
    spec = OrderSpec(Side.SELL, 10, OrderType.STOP, stop_price=95.0)
    kw = dict(ref="r1", strategy_id="s1", symbol="AAPL", tag="stop", seq=1, spec=spec, now=NOW)
    j.record_order(order=o, **kw)  # type: ignore[arg-type]
    o.auxPrice = 96.0  # the row keeps what was sent at the time it was recorded
    j.record_order(order=o, event="Modify", **kw)  # type: ignore[arg-type]
    assert j.query("SELECT aux_price FROM orders") == [(96.0,)]
    assert j.query("SELECT status, message FROM order_events ORDER BY id") == [
        ("New", "SELL 10 STP aux 95"),
        ("Modify", "SELL 10 STP aux 96"),
    ]
    j.close()
