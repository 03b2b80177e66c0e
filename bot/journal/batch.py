"""The journal's buffered writes: rows queued in memory, committed in one transaction per
``flush``, and an order's row made durable first in the write-ahead file (bot/journal/store.py
says when each happens and what a failure does)."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import sqlite3
from collections.abc import Sequence
from datetime import datetime
from enum import Enum
from pathlib import Path
from typing import Any, Final

from eventkit import Event

from bot.journal.schema import UPSERT_ORDER, JournalError
from bot.journal.write_ahead import WriteAheadFile

log = logging.getLogger(__name__)

# The WAL is checkpointed (pages copied into the database, with an fsync) by flush() after
# this many commits: about what SQLite's default of 1000 pages amounts to for small rows.
_CHECKPOINT_EVERY: Final = 250


class Batch:
    """Pending rows of one journal connection, and the state of its writes."""

    def __init__(
        self,
        db: sqlite3.Connection,
        path: Path,
        ahead: WriteAheadFile | None,
        *,
        commit_interval: float,
        max_pending: int,
    ) -> None:
        self.db = db
        self.path = path
        self.ahead = ahead  # None: a run nothing restarts from (bot/journal/store.py)
        self.commit_interval = commit_interval
        self.max_pending = max_pending
        self.pending: list[tuple[str, Sequence[Any]]] = []
        self._commits = 0  # since the last checkpoint
        self.failure: str | None = None  # why the first failed write failed
        self.failed_event = Event("failed_event")  # (failure,), once
        self._timer: asyncio.TimerHandle | None = None

    def add(self, sql: str, params: Sequence[Any]) -> None:
        self.pending.append((sql, params))
        if len(self.pending) >= self.max_pending:
            self.flush()
        elif self._timer is None:
            try:
                loop = asyncio.get_running_loop()
            except RuntimeError:
                return  # no loop (tools, tests): flushed by reads, max_pending or close()
            self._timer = loop.call_later(self.commit_interval, self.flush)

    def execute(self, sql: str, params: Sequence[Any] = ()) -> sqlite3.Cursor:
        """``sql`` now, after everything pending (a read sees every row recorded)."""
        self.flush()
        return self.db.execute(sql, params)

    def flush(self) -> None:
        """Write and commit everything pending in one transaction, then checkpoint the WAL
        if it has grown; a failure is recorded, never raised (a loop timer runs this)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.pending:
            pending, self.pending = self.pending, []
            try:
                self._write(pending)
            except Exception as e:  # sqlite3.Error mostly; any failure must stop new orders
                self.pending = pending + self.pending  # retried by the next flush
                self._failed(e, len(pending))
                return
            self._commits += 1
        if self.ahead is not None and self.ahead.unfolded:
            try:  # every line appended so far has its row in the batch just committed
                self.ahead.folded()
            except OSError as e:  # its lines are replayed at the next open: nothing is lost
                log.warning("journal %s: write-ahead file not emptied: %s", self.path, e)
        if self._commits >= _CHECKPOINT_EVERY:
            self._commits = 0
            try:
                self.db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            except sqlite3.Error as e:
                log.warning("journal %s: WAL checkpoint failed: %s", self.path, e)

    def write_ahead(self, row: Sequence[Any], line: Sequence[Any]) -> None:
        """The order's ``row`` in the write-ahead file now, as ``line`` (its JSON scalars;
        no write-ahead file: nothing to do); JournalError if it cannot be, the row then
        pending like any other."""
        if self.ahead is None:
            return
        if self.failure is None:
            try:
                self.ahead.append(line)
                return
            except OSError as e:
                self._failed(e, len(self.pending) + 1)
        self.pending.append((UPSERT_ORDER, row))
        raise JournalError(self.failure)

    def _write(self, pending: list[tuple[str, Sequence[Any]]]) -> None:
        db = self.db
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
        self.db.close()
        if self.ahead is not None:
            self.ahead.close()


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
