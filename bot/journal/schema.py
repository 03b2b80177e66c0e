"""The journal's schema (versioned in ``meta``), its migration, its order-row statements,
and opening a journal file for writing (bot/journal/store.py says what each table holds)."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path
from typing import Final

from bot.client.ib import OrderStatus

log = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 2

# An order journalled (write-ahead) that the broker never saw: a crash came between the
# commit and the send. Set at restart by reconcile (bot/orders/reconcile.py); it is never re-sent.
NEVER_SENT: Final = "never_sent"
# The end states of an order row: IB's (OrderStatus.DoneStates) and NEVER_SENT.
END_STATES: Final = (*sorted(OrderStatus.DoneStates), NEVER_SENT)

# Held in the account but owned by no strategy (recorded by a reset): the strategy id of its
# rows in position_adjustments. Never a valid strategy id (config ids are non-empty).
UNOWNED: Final = ""

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, started TEXT NOT NULL, ended TEXT, account TEXT, mode TEXT,
    dry_run INTEGER NOT NULL DEFAULT 0, config TEXT, summary TEXT,
    broker TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS intents (
    id INTEGER PRIMARY KEY, run_id INTEGER, time TEXT NOT NULL, strategy_id TEXT NOT NULL,
    symbol TEXT, kind TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS risk_events (
    id INTEGER PRIMARY KEY, run_id INTEGER, time TEXT NOT NULL, strategy_id TEXT,
    kind TEXT NOT NULL, symbol TEXT, reason TEXT NOT NULL, intent TEXT);
CREATE TABLE IF NOT EXISTS orders (
    broker TEXT NOT NULL DEFAULT '', order_ref TEXT NOT NULL, run_id INTEGER,
    created TEXT NOT NULL, updated TEXT NOT NULL, order_id INTEGER, perm_id INTEGER,
    strategy_id TEXT NOT NULL, symbol TEXT NOT NULL, tag TEXT NOT NULL, seq INTEGER NOT NULL,
    parent_ref TEXT, action TEXT, order_type TEXT, quantity REAL, lmt_price REAL,
    aux_price REAL, trail_stop_price REAL, trailing_percent REAL, tif TEXT,
    outside_rth INTEGER, oca_group TEXT, spec TEXT, status TEXT,
    filled REAL NOT NULL DEFAULT 0, avg_fill_price REAL, PRIMARY KEY (broker, order_ref));
CREATE INDEX IF NOT EXISTS orders_by_strategy ON orders (broker, strategy_id, symbol, seq);
CREATE TABLE IF NOT EXISTS order_events (
    id INTEGER PRIMARY KEY, run_id INTEGER, time TEXT NOT NULL, order_ref TEXT NOT NULL,
    order_id INTEGER, status TEXT NOT NULL, filled REAL, remaining REAL, avg_fill_price REAL,
    message TEXT);
CREATE TABLE IF NOT EXISTS fills (
    broker TEXT NOT NULL DEFAULT '', exec_id TEXT NOT NULL, run_id INTEGER, time TEXT NOT NULL,
    order_ref TEXT, order_id INTEGER, strategy_id TEXT NOT NULL, symbol TEXT NOT NULL, tag TEXT,
    side TEXT NOT NULL, quantity REAL NOT NULL, price REAL NOT NULL,
    commission REAL NOT NULL DEFAULT 0, realized_pnl REAL, PRIMARY KEY (broker, exec_id));
CREATE TABLE IF NOT EXISTS position_adjustments (
    id INTEGER PRIMARY KEY, run_id INTEGER, broker TEXT NOT NULL, time TEXT NOT NULL,
    strategy_id TEXT NOT NULL, symbol TEXT NOT NULL, quantity REAL NOT NULL,
    reason TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS control (
    id INTEGER PRIMARY KEY, time TEXT NOT NULL, action TEXT NOT NULL, strategy_id TEXT,
    reason TEXT NOT NULL DEFAULT '');
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, run_id INTEGER, time TEXT NOT NULL, kind TEXT NOT NULL,
    strategy_id TEXT, message TEXT NOT NULL, data TEXT);
"""

ORDER_COLUMNS: Final = 24
_INSERT_ORDER: Final = """
INSERT INTO orders (broker, order_ref, run_id, created, updated, order_id, perm_id, strategy_id,
    symbol, tag, seq, parent_ref, action, order_type, quantity, lmt_price, aux_price,
    trail_stop_price, trailing_percent, tif, outside_rth, oca_group, spec, status)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (broker, order_ref) DO """
# A write-ahead line replayed at open: a row SQLite has already is newer (its status may be
# later than the line's), so it is kept as it is.
REPLAY_ORDER: Final = _INSERT_ORDER + "NOTHING"
UPSERT_ORDER: Final = _INSERT_ORDER + """UPDATE SET updated = excluded.updated,
    order_id = excluded.order_id, perm_id = excluded.perm_id, quantity = excluded.quantity,
    lmt_price = excluded.lmt_price, aux_price = excluded.aux_price,
    trail_stop_price = excluded.trail_stop_price, trailing_percent = excluded.trailing_percent,
    spec = excluded.spec, status = COALESCE(excluded.status, orders.status)
"""


# Version 1 had no broker identity: a run that embedded the simulated gateway (its config has a
# `gateway`) becomes a world of its own, any other run the identity of its account.
_MIGRATE_1_TO_2: Final = """
BEGIN;
ALTER TABLE runs ADD COLUMN broker TEXT NOT NULL DEFAULT '';
UPDATE runs SET broker = CASE
    WHEN json_valid(config) AND json_type(config, '$.gateway') = 'object'
    THEN 'sim:v1-run-' || id ELSE 'ib:' || COALESCE(account, '') END;
DROP INDEX IF EXISTS orders_by_strategy;
ALTER TABLE orders RENAME TO orders_v1;
ALTER TABLE fills RENAME TO fills_v1;
{schema}
INSERT INTO orders SELECT COALESCE((SELECT broker FROM runs WHERE runs.id = o.run_id), ''), o.*
    FROM orders_v1 o;
INSERT INTO fills SELECT COALESCE((SELECT broker FROM runs WHERE runs.id = f.run_id), ''), f.*
    FROM fills_v1 f;
DROP TABLE orders_v1;
DROP TABLE fills_v1;
UPDATE meta SET value = '2' WHERE key = 'schema_version';
COMMIT;
"""


class JournalError(RuntimeError):
    pass


def connect(path: Path) -> sqlite3.Connection:
    """The journal at ``path`` opened for writing, its schema current; JournalError if not."""
    try:
        # The timeout: ``ibbot kill`` may be writing a request from another process.
        db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
        db.execute("PRAGMA journal_mode=WAL")
        # WAL + NORMAL: a commit survives a crash of the process (bot/journal/store.py)
        db.execute("PRAGMA synchronous=NORMAL")
        # Checkpoints (their fsyncs) only from Batch.flush(), never inside an order's commit
        db.execute("PRAGMA wal_autocheckpoint=0")
        _migrate(db, path)
    except sqlite3.Error as e:
        raise JournalError(f"{path}: cannot open the journal: {e}") from None
    return db


def _migrate(db: sqlite3.Connection, path: Path) -> None:
    version = _stored_version(db)
    if version is not None and version > SCHEMA_VERSION:
        raise JournalError(
            f"{path} has journal schema {version}, newer than this bot's "
            f"{SCHEMA_VERSION}: upgrade ibbot or point journal.path at another file"
        )
    if version == 1:
        db.executescript(_MIGRATE_1_TO_2.format(schema=_SCHEMA))
        log.info("%s: journal schema upgraded from 1 to 2", path)
    db.executescript(_SCHEMA)
    db.execute(
        "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
        (SCHEMA_VERSION,),
    )


def _stored_version(db: sqlite3.Connection) -> int | None:
    has_meta = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
    ).fetchone()
    if not has_meta:
        return None
    return schema_version(db)


def schema_version(db: sqlite3.Connection) -> int | None:
    row = db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
    return None if row is None else int(row[0])
