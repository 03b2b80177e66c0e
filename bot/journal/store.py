"""SQLite journal: everything an operator needs to reconstruct the trading day.

One file, WAL mode, schema versioned in ``meta``. Tables: ``runs`` (each daemon start, with
its account and broker identity), ``intents`` (what strategies asked for), ``risk_events``
(rejections, kill switch), ``orders`` (one row per order, latest state) with ``order_events``
(its status history), ``fills`` (execId unique per broker, commission filled in when IB's report
arrives), ``position_adjustments`` (operator resets of the strategies' book) and ``events``
(connects, reconciles, day baselines, anything else) and ``control`` (operator kill and
resume requests, written by ``ibbot kill`` / ``ibbot resume`` from another process and read by
the daemon, bot/risk/kill_switch.py). All times are UTC ISO 8601 strings.

Broker identity: the world whose orders and executions a run saw. For a real IB connection it
is the account (``ib:DU1234567``): every run against that account continues the same book. The
embedded simulated gateway is a new world each run (``sim:<random>``), so nothing of an earlier
run is restored into it. Restart state (positions, order sequences, seen execIds) is read only
from rows of the current run's identity, and orders and fills are unique per identity (a new
simulated world reuses execIds and order refs).

Write-ahead for orders: a new order's row is made durable (``record_order(write_ahead=True)``)
before the order is handed to the broker, so every order that can exist at the broker has a
row, and an order sequence (its orderRef) is never used twice, whatever moment a crash picks.
The row is one line appended to the write-ahead file beside the journal (bot/journal/write_ahead.py:
one ``os.write``, no fsync), which survives a crash or SIGKILL of the process; only a power cut
or OS crash may lose the last lines, as it may lose SQLite's last commits in WAL mode with
``synchronous=NORMAL`` (the broker still has those orders and executions, and reconcile adopts
them by orderRef). The row also joins the buffered batch below; once that batch is committed
its line is folded, and the file is emptied once it has grown past a size. Opening a journal
replays what a killed process left in the file into SQLite first (a row already there is kept
as it is), so restart reads, reconcile and the operator's tools see every order. A run
nothing restarts from (a backtest: its simulated world is new each run) passes
``write_ahead=False`` and its order rows are only buffered.
Checkpoints, which fsync, run from ``flush()`` only (``wal_autocheckpoint`` is off).

Everything else (statuses, fills, events, the order's status history) is buffered:
``record_*`` appends a row to a list and arms one loop timer; ``flush()`` (run by that timer
``commit_interval`` seconds later, by any read, and by ``close()``) serialises and commits the
batch in one transaction. A crash can lose at most the last ``commit_interval`` of those rows;
the broker still has the executions, and ``OrderExecutor.reconcile`` routes the missed ones at
restart, each once (by execId).

A failed write (disk full, read-only file, a lock held too long) never raises inside the
timer: the batch stays pending (retried by the next flush), ``failure`` holds the sqlite error
with the file's path, it is logged at ERROR once, and ``failed_event`` fires once. A write-ahead
line that cannot be appended fails the same way. From then on an order's write-ahead raises
JournalError, so no new order can be sent without its row.
The daemon pauses entries (reason "journal") and stops with exit code 1 (bot/live/daemon.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import sqlite3
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime, timedelta
from enum import Enum
from pathlib import Path
from typing import Any, Final

from eventkit import Event

from bot.client.ib import UNSET_DOUBLE, Order, OrderStatus
from bot.journal.write_ahead import WriteAheadFile, ahead_path, read_rows
from bot.model.events import OrderIntent, OrderSpec, Rejection

log = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 2

# An order journalled (write-ahead) that the broker never saw: a crash came between the
# commit and the send. Set at restart by reconcile (bot/orders/reconcile.py); it is never re-sent.
NEVER_SENT: Final = "never_sent"
# The end states of an order row: IB's (OrderStatus.DoneStates) and NEVER_SENT.
END_STATES: Final = (*sorted(OrderStatus.DoneStates), NEVER_SENT)

# The WAL is checkpointed (pages copied into the database, with an fsync) by flush() after
# this many commits: about what SQLite's default of 1000 pages amounts to for small rows.
_CHECKPOINT_EVERY: Final = 250

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

_ORDER_COLUMNS: Final = 24
_INSERT_ORDER: Final = """
INSERT INTO orders (broker, order_ref, run_id, created, updated, order_id, perm_id, strategy_id,
    symbol, tag, seq, parent_ref, action, order_type, quantity, lmt_price, aux_price,
    trail_stop_price, trailing_percent, tif, outside_rth, oca_group, spec, status)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (broker, order_ref) DO """
# A write-ahead line replayed at open: a row SQLite has already is newer (its status may be
# later than the line's), so it is kept as it is.
_REPLAY_ORDER: Final = _INSERT_ORDER + "NOTHING"
_UPSERT_ORDER: Final = _INSERT_ORDER + """UPDATE SET updated = excluded.updated,
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


def broker_identity(account: str, *, embedded: bool) -> str:
    """The journal scope of a run (module doc): its account at IB, or a new simulated world."""
    return f"sim:{uuid.uuid4().hex}" if embedded else f"ib:{account}"


def dry_run_path(path: Path) -> Path:
    """A dry run journals to its own file: runs/journal.sqlite -> runs/journal.dry.sqlite."""
    return path.with_name(f"{path.stem}.dry{path.suffix}")


def replay_write_ahead(path: Path) -> None:
    """Commit to the journal at ``path`` the write-ahead lines a killed process left (module
    doc). The file stays: only a journal that appends to it truncates it, after its own fold
    (a running daemon may be appending now). Nothing is written when there are none."""
    rows = read_rows(ahead_path(path), _ORDER_COLUMNS)
    if not rows:
        return
    db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
    try:
        db.execute("BEGIN")
        db.executemany(_REPLAY_ORDER, rows)
        db.execute("COMMIT")
    finally:
        db.close()  # uncommitted: rolled back
    log.info("%s: %d write-ahead order rows replayed", path, len(rows))


def _marks(values: Sequence[Any]) -> str:
    return ", ".join("?" * len(values))


def _price(x: float) -> float | None:
    return None if x is None or x == UNSET_DOUBLE else float(x)


def _sql_value(v: Any) -> Any:
    """Deferred conversion, done in flush(): datetimes to ISO, dataclasses/dicts to JSON."""
    if v is None or isinstance(v, str | int | float):
        return v
    if isinstance(v, datetime):
        return v.isoformat()
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return json.dumps({"type": type(v).__name__, **_fields(v)}, default=_json)
    return json.dumps(v, default=_json)


def _fields(v: Any) -> dict[str, Any]:
    """A dataclass's fields, one level: json.dumps calls ``_json`` for nested ones. The same
    JSON as ``dataclasses.asdict`` at a fraction of its cost (an order's row is written on
    the way to the broker)."""
    return {name: getattr(v, name) for name in v.__dataclass_fields__}


def _json(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, Enum):
        return v.value
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return _fields(v)
    return str(v)


class JournalError(RuntimeError):
    pass


class Journal:
    """Append-mostly SQLite store; one connection, batched commits (see module docstring)."""

    def __init__(
        self,
        path: Path,
        *,
        commit_interval: float = 0.2,
        max_pending: int = 1000,
        write_ahead: bool = True,
    ) -> None:
        self.path = Path(path)
        self.commit_interval = commit_interval
        self.max_pending = max_pending
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            # The timeout: ``ibbot kill`` may be writing a request from another process.
            self._db = sqlite3.connect(self.path, isolation_level=None, timeout=10.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            # WAL + NORMAL: a commit survives a crash of the process (module doc)
            self._db.execute("PRAGMA synchronous=NORMAL")
            # Checkpoints (their fsyncs) only from flush(), never inside an order's commit
            self._db.execute("PRAGMA wal_autocheckpoint=0")
            self._migrate()
            replay_write_ahead(self.path)
        except sqlite3.Error as e:
            raise JournalError(f"{self.path}: cannot open the journal: {e}") from None
        # ``write_ahead=False``: a run nothing restarts from (module doc)
        self._ahead = WriteAheadFile(ahead_path(self.path)) if write_ahead else None
        self._pending: list[tuple[str, Sequence[Any]]] = []
        self._commits = 0  # since the last checkpoint
        self.failure: str | None = None  # why the first failed write failed (module doc)
        self.failed_event = Event("failed_event")  # (failure,), once
        self._timer: asyncio.TimerHandle | None = None
        self.run_id: int | None = None
        self.broker = ""  # identity of the current run (begin_run); "" before one begins

    # ---- schema -------------------------------------------------------------------------

    def _migrate(self) -> None:
        version = self._stored_version()
        if version is not None and version > SCHEMA_VERSION:
            raise JournalError(
                f"{self.path} has journal schema {version}, newer than this bot's "
                f"{SCHEMA_VERSION}: upgrade ibbot or point journal.path at another file"
            )
        if version == 1:
            self._db.executescript(_MIGRATE_1_TO_2.format(schema=_SCHEMA))
            log.info("%s: journal schema upgraded from 1 to 2", self.path)
        self._db.executescript(_SCHEMA)
        self._db.execute(
            "INSERT OR REPLACE INTO meta (key, value) VALUES ('schema_version', ?)",
            (SCHEMA_VERSION,),
        )

    def _stored_version(self) -> int | None:
        has_meta = self._db.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'"
        ).fetchone()
        if not has_meta:
            return None
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return None if row is None else int(row[0])

    @property
    def schema_version(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        return int(row[0])

    # ---- writes (buffered) --------------------------------------------------------------

    def _add(self, sql: str, params: Sequence[Any]) -> None:
        self._pending.append((sql, params))
        if len(self._pending) >= self.max_pending:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop (tools, tests): flushed by reads, max_pending or close()
            self._timer = loop.call_later(self.commit_interval, self.flush)

    def begin_run(
        self,
        *,
        now: datetime,
        account: str,
        mode: str,
        dry_run: bool,
        config: str = "",
        broker: str | None = None,
    ) -> int:
        """Start a run; ``broker`` is its identity (default: the account's, ``ib:<account>``),
        and from now on the restart reads see only that identity's rows."""
        self.flush()
        self.broker = f"ib:{account}" if broker is None else broker
        cur = self._db.execute(
            "INSERT INTO runs (started, account, mode, dry_run, config, broker) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (now.isoformat(), account, mode, int(dry_run), config, self.broker),
        )
        self.run_id = int(cur.lastrowid or 0)
        return self.run_id

    def end_run(self, *, now: datetime, summary: str = "") -> None:
        if self.run_id is not None:
            self._add(
                "UPDATE runs SET ended = ?, summary = ? WHERE id = ?",
                (now.isoformat(), summary, self.run_id),
            )
        self.flush()

    def record_intent(self, strategy_id: str, intent: OrderIntent, now: datetime) -> None:
        self._add(
            "INSERT INTO intents (run_id, time, strategy_id, symbol, kind, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (self.run_id, now, strategy_id, getattr(intent, "symbol", None),
             type(intent).__name__, intent),
        )  # fmt: skip

    def record_rejection(self, rejection: Rejection) -> None:
        self._add(
            "INSERT INTO risk_events (run_id, time, strategy_id, kind, symbol, reason, intent) "
            "VALUES (?, ?, ?, 'rejection', ?, ?, ?)",
            (self.run_id, rejection.time, rejection.strategy_id,
             getattr(rejection.intent, "symbol", None), rejection.reason, rejection.intent),
        )  # fmt: skip

    def record_risk_event(
        self, kind: str, reason: str, now: datetime, *, strategy_id: str | None = None
    ) -> None:
        """Kill switch, resume and other risk-state changes (``kind``: 'kill', 'resume')."""
        self._add(
            "INSERT INTO risk_events (run_id, time, strategy_id, kind, reason) "
            "VALUES (?, ?, ?, ?, ?)",
            (self.run_id, now, strategy_id, kind, reason),
        )

    def record_order(
        self,
        *,
        ref: str,
        strategy_id: str,
        symbol: str,
        tag: str,
        seq: int,
        order: Order,
        spec: OrderSpec,
        now: datetime,
        parent_ref: str | None = None,
        event: str = "New",
        write_ahead: bool = False,
    ) -> None:
        """A new order, a modification or an adoption (``event``); snapshots ``order`` now.
        ``write_ahead`` (a new order, before it is sent): the order's row is made durable now
        (module doc); JournalError if it cannot be. Its ``spec`` JSON, which nothing reads
        back, follows with the buffer: the order's terms are in the row's columns already."""
        o = order
        row = (self.broker, ref, self.run_id, now, now, o.orderId, o.permId, strategy_id, symbol,
               tag, seq, parent_ref, o.action, o.orderType, float(o.totalQuantity),
               _price(o.lmtPrice), _price(o.auxPrice), _price(o.trailStopPrice),
               _price(o.trailingPercent), o.tif, int(o.outsideRth), o.ocaGroup, spec, None)
        if write_ahead:
            stamp = now.isoformat()  # the row's one value that is not a JSON scalar already
            self._write_ahead(row, (*row[:3], stamp, stamp, *row[5:-2], None, None))
        self._add(_UPSERT_ORDER, row)
        self._add(
            "INSERT INTO order_events (run_id, time, order_ref, order_id, status, message) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (self.run_id, now, ref, o.orderId, event, _describe(o)),
        )

    def record_status(
        self,
        *,
        ref: str,
        order_id: int,
        perm_id: int,
        status: str,
        filled: float,
        remaining: float,
        avg_fill_price: float,
        now: datetime,
        message: str = "",
    ) -> None:
        self._add(
            "UPDATE orders SET status = ?, filled = ?, avg_fill_price = ?, updated = ?, "
            "perm_id = CASE WHEN ? != 0 THEN ? ELSE perm_id END "
            "WHERE broker = ? AND order_ref = ?",
            (status, filled, avg_fill_price, now, perm_id, perm_id, self.broker, ref),
        )
        self._add(
            "INSERT INTO order_events (run_id, time, order_ref, order_id, status, filled, "
            "remaining, avg_fill_price, message) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self.run_id, now, ref, order_id, status, filled, remaining, avg_fill_price, message),
        )

    def record_fill(
        self,
        *,
        exec_id: str,
        ref: str,
        strategy_id: str,
        symbol: str,
        tag: str,
        order_id: int,
        side: str,
        quantity: float,
        price: float,
        commission: float,
        time: datetime,
    ) -> None:
        """One execution; a repeated execId is ignored (the journal's own dedupe)."""
        self._add(
            "INSERT OR IGNORE INTO fills (broker, exec_id, run_id, time, order_ref, order_id, "
            "strategy_id, symbol, tag, side, quantity, price, commission) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self.broker, exec_id, self.run_id, time, ref, order_id, strategy_id, symbol, tag, side,
             quantity, price, commission),
        )  # fmt: skip

    def record_commission(self, exec_id: str, commission: float, realized_pnl: float) -> None:
        self._add(
            "UPDATE fills SET commission = ?, realized_pnl = ? WHERE broker = ? AND exec_id = ?",
            (commission, realized_pnl, self.broker, exec_id),
        )

    def record_adjustment(
        self, strategy_id: str, symbol: str, quantity: float, reason: str, now: datetime
    ) -> None:
        """Change a restored position by ``quantity`` without an execution (an operator's
        reset); ``strategy_id`` UNOWNED: shares the account holds that no strategy owns."""
        self._add(
            "INSERT INTO position_adjustments (run_id, broker, time, strategy_id, symbol, "
            "quantity, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
            (self.run_id, self.broker, now, strategy_id, symbol, quantity, reason),
        )

    def record_event(
        self,
        kind: str,
        message: str,
        now: datetime,
        *,
        strategy_id: str | None = None,
        data: Any = None,
    ) -> None:
        self._add(
            "INSERT INTO events (run_id, time, kind, strategy_id, message, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (self.run_id, now, kind, strategy_id, message, data),
        )

    def flush(self) -> None:
        """Write and commit everything pending in one transaction, then checkpoint the WAL
        if it has grown; a failure is recorded, never raised (a loop timer runs this:
        module doc)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending:
            pending, self._pending = self._pending, []
            try:
                self._write(pending)
            except Exception as e:  # sqlite3.Error mostly; any failure must stop new orders
                self._pending = pending + self._pending  # retried by the next flush
                self._failed(e, len(pending))
                return
            self._commits += 1
        if self._ahead is not None and self._ahead.unfolded:
            try:  # every line appended so far has its row in the batch just committed
                self._ahead.folded()
            except OSError as e:  # its lines are replayed at the next open: nothing is lost
                log.warning("journal %s: write-ahead file not emptied: %s", self.path, e)
        if self._commits >= _CHECKPOINT_EVERY:
            self._commits = 0
            try:
                self._db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as e:
                log.warning("journal %s: WAL checkpoint failed: %s", self.path, e)

    def _write_ahead(self, row: Sequence[Any], line: Sequence[Any]) -> None:
        """The order's ``row`` in the write-ahead file now, as ``line`` (its JSON scalars;
        ``write_ahead=False``: nothing to do); JournalError if it cannot be, the row then
        pending like any other."""
        if self._ahead is None:
            return
        if self.failure is None:
            try:
                self._ahead.append(line)
                return
            except OSError as e:
                self._failed(e, len(self._pending) + 1)
        self._pending.append((_UPSERT_ORDER, row))
        raise JournalError(self.failure)

    def _write(self, pending: list[tuple[str, Sequence[Any]]]) -> None:
        db = self._db
        try:
            db.execute("BEGIN")
            for sql, params in pending:
                db.execute(sql, [_sql_value(v) for v in params])
            db.execute("COMMIT")
        except BaseException:
            if db.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    db.execute("ROLLBACK")
            raise

    def _failed(self, error: Exception, rows: int) -> None:
        kind = "" if isinstance(error, sqlite3.Error) else f"{type(error).__name__}: "
        if self.failure is not None:
            log.debug("journal %s still not writable: %s%s", self.path, kind, error)
            return
        self.failure = f"journal {self.path} cannot be written: {kind}{error}"
        log.error("%s (%d rows pending); no new order will be sent", self.failure, rows)
        self.failed_event.emit(self.failure)

    def close(self) -> None:
        self.flush()
        self._db.close()
        if self._ahead is not None:
            self._ahead.close()

    # ---- reads (restart): the current run's broker identity only ----------------------------

    def positions(self) -> dict[tuple[str, str], float]:
        """Net position per (strategy_id, symbol): fills and adjustments of this identity."""
        return {k: q for k, q in self._books().items() if k[0] != UNOWNED}

    def unowned_positions(self) -> dict[str, float]:
        """Per symbol, what the account holds outside the strategies (set by a reset)."""
        return {sym: q for (sid, sym), q in self._books().items() if sid == UNOWNED}

    def _books(self) -> dict[tuple[str, str], float]:
        self.flush()
        rows = self._db.execute(
            "SELECT strategy_id, symbol, SUM(q) FROM ("
            " SELECT strategy_id, symbol, CASE side WHEN 'BUY' THEN quantity ELSE -quantity END"
            " AS q FROM fills WHERE broker = ?"
            " UNION ALL"
            " SELECT strategy_id, symbol, quantity FROM position_adjustments WHERE broker = ?"
            ") GROUP BY strategy_id, symbol",
            (self.broker, self.broker),
        )
        return {(s, sym): float(q) for s, sym, q in rows if abs(q) > 1e-9}

    def sequences(self) -> dict[tuple[str, str], int]:
        """Highest order sequence used per (strategy_id, symbol): the next one is one above."""
        self.flush()
        rows = self._db.execute(
            "SELECT strategy_id, symbol, MAX(seq) FROM orders WHERE broker = ? "
            "GROUP BY strategy_id, symbol",
            (self.broker,),
        )
        return {(s, sym): int(q) for s, sym, q in rows}

    def max_order_id(self) -> int:
        """The highest orderId this identity's orders used (0: none)."""
        self.flush()
        row = self._db.execute(
            "SELECT MAX(order_id) FROM orders WHERE broker = ?", (self.broker,)
        ).fetchone()
        return int(row[0] or 0)

    def unfinished_orders(self) -> list[tuple[str, int, int, str, str]]:
        """This identity's orders not in an end state in the journal, oldest first:
        (order_ref, order_id, perm_id, strategy_id, symbol)."""
        self.flush()
        rows = self._db.execute(
            "SELECT order_ref, order_id, perm_id, strategy_id, symbol FROM orders "
            f"WHERE broker = ? AND (status IS NULL OR status NOT IN ({_marks(END_STATES)})) "
            "ORDER BY created",
            (self.broker, *END_STATES),
        )
        return [(r, int(i or 0), int(p or 0), s, sym) for r, i, p, s, sym in rows]

    def recent_fills(self, since: datetime) -> Iterator[tuple[str, datetime, str, str]]:
        """(execId, time, strategy_id, symbol) of this identity's fills at or after ``since``
        (a scan of the fills: once, at start-up)."""
        self.flush()
        rows = self._db.execute(
            "SELECT exec_id, time, strategy_id, symbol FROM fills WHERE broker = ?",
            (self.broker,),
        )
        for exec_id, text, sid, symbol in rows:
            when = datetime.fromisoformat(text)
            if when.tzinfo is None or when >= since:  # naive: an old journal's; keep it
                yield exec_id, when, sid, symbol

    def has_fill(self, exec_id: str) -> bool:
        """Whether this identity journalled the execution (the ground truth of dedupe)."""
        self.flush()
        row = self._db.execute(
            "SELECT 1 FROM fills WHERE broker = ? AND exec_id = ?", (self.broker, exec_id)
        ).fetchone()
        return row is not None

    def filled_by_ref(self) -> dict[str, float]:
        """Shares filled per order ref (for orders adopted at a restart)."""
        self.flush()
        rows = self._db.execute(
            "SELECT order_ref, SUM(quantity) FROM fills WHERE broker = ? GROUP BY order_ref",
            (self.broker,),
        )
        return {ref: float(q) for ref, q in rows if ref}

    def ledger(self) -> list[tuple[datetime, str, str, float, float | None, float]]:
        """Fills and adjustments of this identity in time order, as (time, strategy_id,
        symbol, signed quantity, price or None for an adjustment, commission)."""
        self.flush()
        rows = self._db.execute(
            "SELECT time, strategy_id, symbol, q, price, fee FROM ("
            " SELECT time, strategy_id, symbol, CASE side WHEN 'BUY' THEN quantity"
            " ELSE -quantity END AS q, price, commission AS fee, 0 AS k, rowid AS r"
            " FROM fills WHERE broker = ? AND strategy_id != ?"
            " UNION ALL SELECT time, strategy_id, symbol, quantity, NULL, 0, 1, id"
            " FROM position_adjustments WHERE broker = ? AND strategy_id != ?"
            ") ORDER BY time, k, r",
            (self.broker, UNOWNED, self.broker, UNOWNED),
        )
        return [(datetime.fromisoformat(t), s, sym, float(q), p, float(f or 0.0))
                for t, s, sym, q, p, f in rows]  # fmt: skip

    def day_figures(self, kind: str, start: datetime) -> dict[str, float] | None:
        """Per-scope figures journalled as ``kind`` events (``day_start``: the last one;
        ``equity_high``: the highest of each) of this identity on the day from ``start``."""
        self.flush()
        end = start + timedelta(days=1)
        rows = self._db.execute(
            "SELECT e.data FROM events e JOIN runs r ON r.id = e.run_id WHERE r.broker = ? "
            "AND e.kind = ? AND e.time >= ? AND e.time < ? ORDER BY e.id",
            (self.broker, kind, start.isoformat(), end.isoformat()),
        )
        out: dict[str, float] | None = None
        for (data,) in rows:
            figures = {str(k): float(v) for k, v in json.loads(data).items()}
            if kind == "day_start" or out is None:
                out = figures
            else:
                out = {k: max(v, out.get(k, v)) for k, v in {**out, **figures}.items()}
        return out

    def risk_states(self) -> list[tuple[str | None, str, str, str]]:
        """This identity's risk-state changes in order: (scope: strategy id or None for the
        account, kind 'hold' or 'release', reason, JSON of the hold)."""
        self.flush()
        rows = self._db.execute(
            "SELECT e.strategy_id, e.kind, e.reason, e.intent FROM risk_events e "
            "JOIN runs r ON r.id = e.run_id WHERE r.broker = ? AND e.kind IN ('hold', 'release')"
            " ORDER BY e.id",
            (self.broker,),
        )
        return [(s, k, r, d) for s, k, r, d in rows]

    def record_state(self, kind: str, scope: str | None, reason: str, data: str,
                     now: datetime) -> None:  # fmt: skip
        """A risk state change (``kind`` 'hold' or 'release'); ``data``: the hold as JSON."""
        self._add(
            "INSERT INTO risk_events (run_id, time, strategy_id, kind, reason, intent) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (self.run_id, now, scope, kind, reason, data),
        )

    # ---- operator requests (may come from another process) ------------------------------

    def request(self, action: str, strategy_id: str | None, reason: str, now: datetime) -> int:
        """Write a kill or resume request now (not buffered: another process reads it)."""
        self.flush()
        cur = self._db.execute(
            "INSERT INTO control (time, action, strategy_id, reason) VALUES (?, ?, ?, ?)",
            (now.isoformat(), action, strategy_id, reason),
        )
        return int(cur.lastrowid or 0)

    def requests(self, after: int = 0) -> list[tuple[int, str, str | None, str]]:
        """Operator requests with an id above ``after``: (id, action, strategy_id, reason)."""
        self.flush()
        rows = self._db.execute(
            "SELECT id, action, strategy_id, reason FROM control WHERE id > ? ORDER BY id",
            (after,),
        )
        return [(int(i), a, s, r) for i, a, s, r in rows]

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Read-only helper for tools and tests."""
        self.flush()
        return list(self._db.execute(sql, params))


def _describe(o: Order) -> str:
    parts = [f"{o.action} {o.totalQuantity:g} {o.orderType}"]
    if _price(o.lmtPrice) is not None:
        parts.append(f"lmt {o.lmtPrice:g}")
    if _price(o.auxPrice) is not None:
        parts.append(f"aux {o.auxPrice:g}")
    if _price(o.trailStopPrice) is not None:
        parts.append(f"trail stop {o.trailStopPrice:g}")
    if _price(o.trailingPercent) is not None:
        parts.append(f"trail {o.trailingPercent:g}%")
    return " ".join(parts)
