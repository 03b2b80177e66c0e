"""Read-only queries of a journal file for the tools and reports (``ibbot journal``, ``status``
from a stopped daemon, a backtest's report): the only SQL outside the journal's own store.

A reader never writes the journal, so it can read a copy on a read-only disk; opened with
``replay=True`` it first commits the write-ahead lines a killed daemon left (bot/journal/
write_ahead.py), so its last orders are seen, and reads on without them where it cannot.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import closing, contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.journal.replay import replay_write_ahead

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Fill:
    """One execution as journalled."""

    time: datetime
    strategy_id: str
    symbol: str
    side: str  # BUY | SELL
    quantity: float  # > 0
    price: float
    commission: float = 0.0
    order_ref: str = ""

    @property
    def signed(self) -> float:
        return self.quantity if self.side == "BUY" else -self.quantity


@dataclass(frozen=True, slots=True)
class RiskEvent:
    time: str
    strategy_id: str
    kind: str
    symbol: str
    reason: str


@dataclass(frozen=True, slots=True)
class Run:
    """One daemon or backtest start (the ``runs`` table)."""

    id: int
    started: str
    ended: str | None
    account: str | None
    mode: str | None
    dry_run: int
    broker: str

    def header(self) -> dict[str, Any]:
        """What the operator's views show of it (not its broker identity)."""
        return {"id": self.id, "started": self.started, "ended": self.ended,
                "account": self.account, "mode": self.mode, "dry_run": self.dry_run}  # fmt: skip


_ORDER_COLUMNS = ("created, updated, strategy_id, symbol, tag, order_ref, action, order_type, "
                  "quantity, lmt_price, aux_price, status, filled, avg_fill_price")  # fmt: skip
_FILL_COLUMNS = ("time, strategy_id, symbol, tag, side, quantity, price, commission, "
                 "order_ref, exec_id")  # fmt: skip


class JournalReader:
    """One read-only connection to a journal file (``open``)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def fills(self) -> list[Fill]:
        """Every fill of the journal in time order (a backtest's journal: one run)."""
        rows = self._db.execute(
            "SELECT time, strategy_id, symbol, side, quantity, price, commission, order_ref "
            "FROM fills ORDER BY time, rowid"
        )
        return [Fill(datetime.fromisoformat(t), sid, sym, side, float(q), float(p),
                     float(c or 0), ref or "")
                for t, sid, sym, side, q, p, c, ref in rows]  # fmt: skip

    def risk_events(self) -> list[RiskEvent]:
        rows = self._db.execute(
            "SELECT time, strategy_id, kind, symbol, reason FROM risk_events ORDER BY time, id"
        )
        return [RiskEvent(t, sid or "", kind, sym or "", why) for t, sid, kind, sym, why in rows]

    def latest_time(self) -> str | None:
        """The time of the newest fill or order update (None: the journal has neither)."""
        row = self._db.execute("SELECT MAX(t) FROM (SELECT MAX(time) t FROM fills UNION ALL "
                               "SELECT MAX(updated) FROM orders)").fetchone()  # fmt: skip
        return row[0] if row and row[0] else None

    def last_run(self) -> Run | None:
        row = self._db.execute(
            "SELECT id, started, ended, account, mode, dry_run, broker FROM runs "
            "ORDER BY id DESC LIMIT 1"
        ).fetchone()
        return None if row is None else Run(*row)

    def orders_between(self, broker: str, lo: str, hi: str) -> list[dict[str, Any]]:
        """``broker``'s orders alive in [lo, hi) (ISO times), oldest first, by column name."""
        return self._dicts(
            f"SELECT {_ORDER_COLUMNS} FROM orders "
            "WHERE broker = ? AND updated >= ? AND created < ? ORDER BY created",
            (broker, lo, hi),
        )

    def fills_before(self, broker: str, hi: str) -> list[dict[str, Any]]:
        """``broker``'s fills before ``hi`` (an ISO time) in time order, by column name."""
        return self._dicts(
            f"SELECT {_FILL_COLUMNS} FROM fills WHERE broker = ? AND time < ? ORDER BY time",
            (broker, hi),
        )

    def orders_not_in(self, broker: str, done: Sequence[str]) -> list[tuple[Any, ...]]:
        """``broker``'s orders whose status is none of ``done``, oldest first: (strategy_id,
        symbol, tag, action, quantity, order_type, lmt_price, aux_price, filled, status)."""
        marks = ",".join("?" * len(done))
        return list(self._db.execute(
            "SELECT strategy_id, symbol, tag, action, quantity, order_type, lmt_price, "
            f"aux_price, filled, status FROM orders WHERE broker = ? AND (status IS NULL OR "
            f"status NOT IN ({marks})) ORDER BY created", (broker, *done)))  # fmt: skip

    def _dicts(self, sql: str, params: Sequence[Any]) -> list[dict[str, Any]]:
        cur = self._db.execute(sql, params)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur]


@contextmanager
def open_reader(path: Path, *, replay: bool = False) -> Iterator[JournalReader]:
    """A reader of the journal at ``path`` (FileNotFoundError if there is none); ``replay``:
    the write-ahead lines first (module doc)."""
    if not path.exists():
        raise FileNotFoundError(f"no journal at {path}")
    if replay:
        try:
            replay_write_ahead(path)
        except sqlite3.Error as e:  # a read-only copy: its last orders are in the file only
            log.warning("%s: write-ahead lines not replayed: %s", path, e)
    with closing(sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)) as db:
        yield JournalReader(db)
