"""SQLite journal: everything an operator needs to reconstruct the trading day.

One file, WAL mode, schema versioned in ``meta``. Tables: ``runs`` (each daemon start),
``intents`` (what strategies asked for), ``risk_events`` (rejections, kill switch),
``orders`` (one row per order, latest state) with ``order_events`` (its status history),
``fills`` (execId unique, commission filled in when IB's report arrives) and ``events``
(connects, reconciles, anything else). All times are UTC ISO 8601 strings.

Writes never touch the database on the hot path: ``record_*`` appends a row to a list and
arms one loop timer; ``flush()`` (run by that timer ``commit_interval`` seconds later, by any
read, and by ``close()``) serialises and commits the batch in one transaction. A crash can
therefore lose at most the last ``commit_interval`` of journal; the broker still has the
orders and executions, and ``OrderExecutor.reconcile`` recovers them from IB.
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
import logging
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, Final

from ib_insync import Order
from ib_insync.util import UNSET_DOUBLE

from bot.events import OrderIntent, OrderSpec, Rejection

log = logging.getLogger(__name__)

SCHEMA_VERSION: Final = 1

_SCHEMA: Final = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY, started TEXT NOT NULL, ended TEXT, account TEXT, mode TEXT,
    dry_run INTEGER NOT NULL DEFAULT 0, config TEXT, summary TEXT);
CREATE TABLE IF NOT EXISTS intents (
    id INTEGER PRIMARY KEY, run_id INTEGER, time TEXT NOT NULL, strategy_id TEXT NOT NULL,
    symbol TEXT, kind TEXT NOT NULL, data TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS risk_events (
    id INTEGER PRIMARY KEY, run_id INTEGER, time TEXT NOT NULL, strategy_id TEXT,
    kind TEXT NOT NULL, symbol TEXT, reason TEXT NOT NULL, intent TEXT);
CREATE TABLE IF NOT EXISTS orders (
    order_ref TEXT PRIMARY KEY, run_id INTEGER, created TEXT NOT NULL, updated TEXT NOT NULL,
    order_id INTEGER, perm_id INTEGER, strategy_id TEXT NOT NULL, symbol TEXT NOT NULL,
    tag TEXT NOT NULL, seq INTEGER NOT NULL, parent_ref TEXT, action TEXT, order_type TEXT,
    quantity REAL, lmt_price REAL, aux_price REAL, trail_stop_price REAL,
    trailing_percent REAL, tif TEXT, outside_rth INTEGER, oca_group TEXT, spec TEXT,
    status TEXT, filled REAL NOT NULL DEFAULT 0, avg_fill_price REAL);
CREATE INDEX IF NOT EXISTS orders_by_strategy ON orders (strategy_id, symbol, seq);
CREATE TABLE IF NOT EXISTS order_events (
    id INTEGER PRIMARY KEY, run_id INTEGER, time TEXT NOT NULL, order_ref TEXT NOT NULL,
    order_id INTEGER, status TEXT NOT NULL, filled REAL, remaining REAL, avg_fill_price REAL,
    message TEXT);
CREATE TABLE IF NOT EXISTS fills (
    exec_id TEXT PRIMARY KEY, run_id INTEGER, time TEXT NOT NULL, order_ref TEXT,
    order_id INTEGER, strategy_id TEXT NOT NULL, symbol TEXT NOT NULL, tag TEXT,
    side TEXT NOT NULL, quantity REAL NOT NULL, price REAL NOT NULL,
    commission REAL NOT NULL DEFAULT 0, realized_pnl REAL);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY, run_id INTEGER, time TEXT NOT NULL, kind TEXT NOT NULL,
    strategy_id TEXT, message TEXT NOT NULL, data TEXT);
"""

_UPSERT_ORDER: Final = """
INSERT INTO orders (order_ref, run_id, created, updated, order_id, perm_id, strategy_id, symbol,
    tag, seq, parent_ref, action, order_type, quantity, lmt_price, aux_price, trail_stop_price,
    trailing_percent, tif, outside_rth, oca_group, spec, status)
VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
ON CONFLICT (order_ref) DO UPDATE SET updated = excluded.updated, order_id = excluded.order_id,
    perm_id = excluded.perm_id, quantity = excluded.quantity, lmt_price = excluded.lmt_price,
    aux_price = excluded.aux_price, trail_stop_price = excluded.trail_stop_price,
    trailing_percent = excluded.trailing_percent, spec = excluded.spec,
    status = COALESCE(excluded.status, orders.status)
"""


def dry_run_path(path: Path) -> Path:
    """A dry run journals to its own file: runs/journal.sqlite -> runs/journal.dry.sqlite."""
    return path.with_name(f"{path.stem}.dry{path.suffix}")


def _price(x: float) -> float | None:
    return None if x is None or x == UNSET_DOUBLE else float(x)


def _sql_value(v: Any) -> Any:
    """Deferred conversion, done in flush(): datetimes to ISO, dataclasses/dicts to JSON."""
    if v is None or isinstance(v, str | int | float):
        return v
    if isinstance(v, datetime):
        return v.isoformat()
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return json.dumps({"type": type(v).__name__, **dataclasses.asdict(v)}, default=_json)
    return json.dumps(v, default=_json)


def _json(v: Any) -> Any:
    if isinstance(v, datetime):
        return v.isoformat()
    if isinstance(v, Enum):
        return v.value
    return str(v)


class JournalError(RuntimeError):
    pass


class Journal:
    """Append-mostly SQLite store; one connection, batched commits (see module docstring)."""

    def __init__(
        self, path: Path, *, commit_interval: float = 0.2, max_pending: int = 1000
    ) -> None:
        self.path = Path(path)
        self.commit_interval = commit_interval
        self.max_pending = max_pending
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")  # WAL + NORMAL: durable across app crashes
        self._migrate()
        self._pending: list[tuple[str, Sequence[Any]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self.run_id: int | None = None

    # ---- schema -------------------------------------------------------------------------

    def _migrate(self) -> None:
        self._db.executescript(_SCHEMA)
        row = self._db.execute("SELECT value FROM meta WHERE key = 'schema_version'").fetchone()
        if row is None:
            self._db.execute(
                "INSERT INTO meta (key, value) VALUES ('schema_version', ?)", (SCHEMA_VERSION,)
            )
        elif int(row[0]) > SCHEMA_VERSION:
            raise JournalError(
                f"{self.path} has journal schema {row[0]}, newer than this bot's "
                f"{SCHEMA_VERSION}: upgrade ibbot or point journal.path at another file"
            )
        # Future versions: migrate step by step from int(row[0]) here.

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
        self, *, now: datetime, account: str, mode: str, dry_run: bool, config: str = ""
    ) -> int:
        self.flush()
        cur = self._db.execute(
            "INSERT INTO runs (started, account, mode, dry_run, config) VALUES (?, ?, ?, ?, ?)",
            (now.isoformat(), account, mode, int(dry_run), config),
        )
        self.run_id = int(cur.lastrowid or 0)
        return self.run_id

    def end_run(self, *, now: datetime, summary: str = "") -> None:
        self.flush()
        if self.run_id is not None:
            self._db.execute(
                "UPDATE runs SET ended = ?, summary = ? WHERE id = ?",
                (now.isoformat(), summary, self.run_id),
            )

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
    ) -> None:
        """A new order, a modification or an adoption (``event``); snapshots ``order`` now."""
        o = order
        self._add(
            _UPSERT_ORDER,
            (ref, self.run_id, now, now, o.orderId, o.permId, strategy_id, symbol, tag, seq,
             parent_ref, o.action, o.orderType, float(o.totalQuantity), _price(o.lmtPrice),
             _price(o.auxPrice), _price(o.trailStopPrice), _price(o.trailingPercent), o.tif,
             int(o.outsideRth), o.ocaGroup, spec, None),
        )  # fmt: skip
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
            "perm_id = CASE WHEN ? != 0 THEN ? ELSE perm_id END WHERE order_ref = ?",
            (status, filled, avg_fill_price, now, perm_id, perm_id, ref),
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
            "INSERT OR IGNORE INTO fills (exec_id, run_id, time, order_ref, order_id, "
            "strategy_id, symbol, tag, side, quantity, price, commission) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (exec_id, self.run_id, time, ref, order_id, strategy_id, symbol, tag, side,
             quantity, price, commission),
        )  # fmt: skip

    def record_commission(self, exec_id: str, commission: float, realized_pnl: float) -> None:
        self._add(
            "UPDATE fills SET commission = ?, realized_pnl = ? WHERE exec_id = ?",
            (commission, realized_pnl, exec_id),
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
        """Write and commit everything pending in one transaction."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if not self._pending:
            return
        pending, self._pending = self._pending, []
        db = self._db
        db.execute("BEGIN")
        try:
            for sql, params in pending:
                db.execute(sql, [_sql_value(v) for v in params])
        except Exception:
            db.execute("ROLLBACK")
            log.exception("journal write failed; %d rows lost", len(pending))
            raise
        db.execute("COMMIT")

    def close(self) -> None:
        self.flush()
        self._db.close()

    # ---- reads (restart) ----------------------------------------------------------------

    def positions(self) -> dict[tuple[str, str], float]:
        """Net position per (strategy_id, symbol) from every fill in this journal."""
        self.flush()
        rows = self._db.execute(
            "SELECT strategy_id, symbol, "
            "SUM(CASE side WHEN 'BUY' THEN quantity ELSE -quantity END) "
            "FROM fills GROUP BY strategy_id, symbol"
        )
        return {(s, sym): float(q) for s, sym, q in rows if q}

    def sequences(self) -> dict[tuple[str, str], int]:
        """Highest order sequence used per (strategy_id, symbol): the next one is one above."""
        self.flush()
        rows = self._db.execute(
            "SELECT strategy_id, symbol, MAX(seq) FROM orders GROUP BY strategy_id, symbol"
        )
        return {(s, sym): int(q) for s, sym, q in rows}

    def exec_ids(self) -> set[str]:
        self.flush()
        return {r[0] for r in self._db.execute("SELECT exec_id FROM fills")}

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
