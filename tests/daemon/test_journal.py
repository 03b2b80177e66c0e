"""Journal: schema, WAL, round trip of every record kind, batching, restart state."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pytest
from ib_insync import Order
from support.waiting import wait_until

from bot.journal.schema import SCHEMA_VERSION, UNOWNED
from bot.journal.store import Journal, JournalError, broker_identity, dry_run_path
from bot.model.events import OrderSpec, OrderType, PlaceOrder, Rejection, Side

NOW = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)


def exec_ids(j: Journal) -> set[str]:
    """The execIds journalled for this broker identity."""
    return {r[0] for r in j.query("SELECT exec_id FROM fills WHERE broker = ?", (j.broker,))}


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
    assert j.reads.sequences() == {("s1", "AAPL"): 4, ("s1", "MSFT"): 2, ("s2", "AAPL"): 9}
    assert j.reads.positions() == {("s1", "AAPL"): 20.0, ("s2", "AAPL"): -7.0}
    assert exec_ids(j) == {"e1", "e2", "e3", "e4", "e5"}
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
    await wait_until(lambda: other.execute("SELECT COUNT(*) FROM events").fetchone() != (0,),
                     what="the timer's commit")  # fmt: skip
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


# ---- broker identity: what a run restores ---------------------------------------------------


def test_restart_state_is_scoped_to_the_broker_identity(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    j.begin_run(now=NOW, account="DU1", mode="paper", dry_run=False)  # ib:DU1
    assert j.broker == "ib:DU1"
    order_row(j, "ibbot:s1:AAPL:entry:3", 3)
    fill_row(j, "0001.0001.01.01", "BUY", 30)
    j.end_run(now=NOW)
    # A simulated world of its own: the same execId and order ref are new there.
    j.begin_run(now=NOW, account="DU1", mode="paper", dry_run=False, broker="sim:a")
    assert (j.reads.positions(), j.reads.sequences(), exec_ids(j)) == ({}, {}, set())
    order_row(j, "ibbot:s1:AAPL:entry:3", 3)
    fill_row(j, "0001.0001.01.01", "SELL", 5)
    j.record_commission("0001.0001.01.01", 1.5, 0.0)
    j.record_status(ref="ibbot:s1:AAPL:entry:3", order_id=7, perm_id=9, status="Filled",
                    filled=5, remaining=0, avg_fill_price=100, now=NOW)  # fmt: skip
    assert j.reads.positions() == {("s1", "AAPL"): -5.0}
    assert j.reads.filled_by_ref() == {"r": 5.0}
    j.end_run(now=NOW)
    j.close()
    j = Journal(tmp_path / "j.sqlite")
    j.begin_run(now=NOW, account="DU1", mode="paper", dry_run=False)  # the account again
    assert j.reads.positions() == {("s1", "AAPL"): 30.0}
    assert j.reads.sequences() == {("s1", "AAPL"): 3}
    assert exec_ids(j) == {"0001.0001.01.01"}
    # Both worlds' rows are kept, each updated only by its own runs.
    assert j.query("SELECT broker, side, commission FROM fills ORDER BY broker") == [
        ("ib:DU1", "BUY", 0.0), ("sim:a", "SELL", 1.5),
    ]  # fmt: skip
    assert j.query("SELECT broker, status FROM orders ORDER BY broker") == [
        ("ib:DU1", None), ("sim:a", "Filled"),
    ]  # fmt: skip
    assert j.query("SELECT id, broker FROM runs") == [(1, "ib:DU1"), (2, "sim:a"), (3, "ib:DU1")]
    j.begin_run(now=NOW, account="DU2", mode="paper", dry_run=False)  # another account
    assert j.reads.positions() == {} and exec_ids(j) == set()
    j.close()


def test_each_embedded_run_is_its_own_identity() -> None:
    a = broker_identity("DU1234567", embedded=True)
    b = broker_identity("DU1234567", embedded=True)
    assert a.startswith("sim:") and b.startswith("sim:") and a != b
    assert broker_identity("DU1234567", embedded=False) == "ib:DU1234567"


def test_adjustments_reset_strategies_and_record_unowned_shares(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    j.begin_run(now=NOW, account="DU1", mode="paper", dry_run=False)
    fill_row(j, "e1", "BUY", 30)
    fill_row(j, "e2", "BUY", 4, sid="s2")
    j.record_adjustment("s1", "AAPL", -30, "--reset-positions: ...", NOW)
    j.record_adjustment(UNOWNED, "AAPL", 12, "--reset-positions: ...", NOW)
    assert j.reads.positions() == {("s2", "AAPL"): 4.0}
    assert j.reads.unowned_positions() == {"AAPL": 12.0}
    fill_row(j, "e3", "BUY", 1)  # fills after the reset count as usual
    assert j.reads.positions() == {("s1", "AAPL"): 1.0, ("s2", "AAPL"): 4.0}
    j.begin_run(now=NOW, account="DU1", mode="paper", dry_run=False, broker="sim:x")
    assert j.reads.positions() == {} and j.reads.unowned_positions() == {}
    j.close()


_V1_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE runs (id INTEGER PRIMARY KEY, started TEXT NOT NULL, ended TEXT, account TEXT,
    mode TEXT, dry_run INTEGER NOT NULL DEFAULT 0, config TEXT, summary TEXT);
CREATE TABLE orders (order_ref TEXT PRIMARY KEY, run_id INTEGER, created TEXT NOT NULL,
    updated TEXT NOT NULL, order_id INTEGER, perm_id INTEGER, strategy_id TEXT NOT NULL,
    symbol TEXT NOT NULL, tag TEXT NOT NULL, seq INTEGER NOT NULL, parent_ref TEXT, action TEXT,
    order_type TEXT, quantity REAL, lmt_price REAL, aux_price REAL, trail_stop_price REAL,
    trailing_percent REAL, tif TEXT, outside_rth INTEGER, oca_group TEXT, spec TEXT,
    status TEXT, filled REAL NOT NULL DEFAULT 0, avg_fill_price REAL);
CREATE INDEX orders_by_strategy ON orders (strategy_id, symbol, seq);
CREATE TABLE fills (exec_id TEXT PRIMARY KEY, run_id INTEGER, time TEXT NOT NULL,
    order_ref TEXT, order_id INTEGER, strategy_id TEXT NOT NULL, symbol TEXT NOT NULL, tag TEXT,
    side TEXT NOT NULL, quantity REAL NOT NULL, price REAL NOT NULL,
    commission REAL NOT NULL DEFAULT 0, realized_pnl REAL);
INSERT INTO meta VALUES ('schema_version', '1');
INSERT INTO runs (id, started, account, config) VALUES
    (1, 't', 'DU1', '{"gateway": {"speed": 400}}'), (2, 't', 'DU1', '{"gateway": null}');
INSERT INTO orders (order_ref, run_id, created, updated, strategy_id, symbol, tag, seq)
    VALUES ('ibbot:s1:AAPL:e:7', 1, 't', 't', 's1', 'AAPL', 'e', 7),
           ('ibbot:s1:AAPL:e:2', 2, 't', 't', 's1', 'AAPL', 'e', 2);
INSERT INTO fills (exec_id, run_id, time, strategy_id, symbol, side, quantity, price) VALUES
    ('x1', 1, 't', 's1', 'AAPL', 'BUY', 61, 1), ('x2', 2, 't', 's1', 'AAPL', 'BUY', 3, 1);
"""


def test_a_version_1_journal_is_upgraded_in_place(tmp_path: Path) -> None:
    db = sqlite3.connect(tmp_path / "j.sqlite")
    db.executescript(_V1_SCHEMA)
    db.close()
    j = Journal(tmp_path / "j.sqlite")
    assert j.schema_version == SCHEMA_VERSION == 2
    # The run that embedded the gateway is a world of its own; the other one is the account's.
    assert j.query("SELECT id, broker FROM runs") == [(1, "sim:v1-run-1"), (2, "ib:DU1")]
    j.begin_run(now=NOW, account="DU1", mode="paper", dry_run=False)
    assert j.reads.positions() == {("s1", "AAPL"): 3.0}
    assert j.reads.sequences() == {("s1", "AAPL"): 2}
    assert exec_ids(j) == {"x2"}
    assert j.query("SELECT COUNT(*) FROM fills") == [(2,)]
    j.close()
    assert Journal(tmp_path / "j.sqlite").schema_version == 2  # opens again as is
