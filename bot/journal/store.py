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

import logging
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from bot.client.ib import UNSET_DOUBLE, Order
from bot.journal.batch import Batch
from bot.journal.control import ControlRequests
from bot.journal.reads import RestartReads, RunScope
from bot.journal.replay import replay_write_ahead
from bot.journal.schema import UPSERT_ORDER, JournalError, connect, schema_version
from bot.journal.write_ahead import WriteAheadFile, ahead_path
from bot.model.events import OrderIntent, OrderSpec, Rejection

log = logging.getLogger(__name__)


def broker_identity(account: str, *, embedded: bool) -> str:
    """The journal scope of a run (module doc): its account at IB, or a new simulated world."""
    return f"sim:{uuid.uuid4().hex}" if embedded else f"ib:{account}"


def dry_run_path(path: Path) -> Path:
    """A dry run journals to its own file: runs/journal.sqlite -> runs/journal.dry.sqlite."""
    return path.with_name(f"{path.stem}.dry{path.suffix}")


def _price(x: float) -> float | None:
    return None if x is None or x == UNSET_DOUBLE else float(x)


class Journal:
    """The journal of a run: its rows recorded (``record_*``, buffered by a Batch), its restart
    reads (``reads``) and the operator's requests (``control``); module doc."""

    def __init__(
        self,
        path: Path,
        *,
        commit_interval: float = 0.2,
        max_pending: int = 1000,
        write_ahead: bool = True,
    ) -> None:
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = connect(self.path)
        try:
            replay_write_ahead(self.path)
        except sqlite3.Error as e:
            raise JournalError(f"{self.path}: cannot open the journal: {e}") from None
        # ``write_ahead=False``: a run nothing restarts from (module doc)
        self._ahead = WriteAheadFile(ahead_path(self.path)) if write_ahead else None
        self._batch = Batch(self._db, self.path, self._ahead,
                            commit_interval=commit_interval, max_pending=max_pending)  # fmt: skip
        self.failed_event = self._batch.failed_event  # (failure,), once (module doc)
        self._scope = RunScope()
        self.reads = RestartReads(self._batch, self._scope)
        self.control = ControlRequests(self._batch)

    @property
    def failure(self) -> str | None:
        """Why the first failed write failed (module doc); None while every write succeeds."""
        return self._batch.failure

    @property
    def run_id(self) -> int | None:
        return self._scope.run_id

    @property
    def broker(self) -> str:
        """The identity of the current run (begin_run); "" before one begins."""
        return self._scope.broker

    @broker.setter
    def broker(self, broker: str) -> None:
        self._scope.broker = broker

    @property
    def schema_version(self) -> int | None:
        return schema_version(self._db)

    # ---- writes (buffered) --------------------------------------------------------------

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
        self._scope.broker = f"ib:{account}" if broker is None else broker
        cur = self._batch.execute(
            "INSERT INTO runs (started, account, mode, dry_run, config, broker) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (now.isoformat(), account, mode, int(dry_run), config, self._scope.broker),
        )
        self._scope.run_id = int(cur.lastrowid or 0)
        return self._scope.run_id

    def end_run(self, *, now: datetime, summary: str = "") -> None:
        if self.run_id is not None:
            self._batch.add(
                "UPDATE runs SET ended = ?, summary = ? WHERE id = ?",
                (now.isoformat(), summary, self.run_id),
            )
        self.flush()

    def record_intent(self, strategy_id: str, intent: OrderIntent, now: datetime) -> None:
        self._batch.add(
            "INSERT INTO intents (run_id, time, strategy_id, symbol, kind, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (self.run_id, now, strategy_id, getattr(intent, "symbol", None),
             type(intent).__name__, intent),
        )  # fmt: skip

    def record_rejection(self, rejection: Rejection) -> None:
        self._batch.add(
            "INSERT INTO risk_events (run_id, time, strategy_id, kind, symbol, reason, intent) "
            "VALUES (?, ?, ?, 'rejection', ?, ?, ?)",
            (self.run_id, rejection.time, rejection.strategy_id,
             getattr(rejection.intent, "symbol", None), rejection.reason, rejection.intent),
        )  # fmt: skip

    def record_risk_event(
        self, kind: str, reason: str, now: datetime, *, strategy_id: str | None = None
    ) -> None:
        """Kill switch, resume and other risk-state changes (``kind``: 'kill', 'resume')."""
        self._batch.add(
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
            self._batch.write_ahead(row, (*row[:3], stamp, stamp, *row[5:-2], None, None))
        self._batch.add(UPSERT_ORDER, row)
        self._batch.add(
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
        self._batch.add(
            "UPDATE orders SET status = ?, filled = ?, avg_fill_price = ?, updated = ?, "
            "perm_id = CASE WHEN ? != 0 THEN ? ELSE perm_id END "
            "WHERE broker = ? AND order_ref = ?",
            (status, filled, avg_fill_price, now, perm_id, perm_id, self.broker, ref),
        )
        self._batch.add(
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
        self._batch.add(
            "INSERT OR IGNORE INTO fills (broker, exec_id, run_id, time, order_ref, order_id, "
            "strategy_id, symbol, tag, side, quantity, price, commission) "
            "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (self.broker, exec_id, self.run_id, time, ref, order_id, strategy_id, symbol, tag, side,
             quantity, price, commission),
        )  # fmt: skip

    def record_commission(self, exec_id: str, commission: float, realized_pnl: float) -> None:
        self._batch.add(
            "UPDATE fills SET commission = ?, realized_pnl = ? WHERE broker = ? AND exec_id = ?",
            (commission, realized_pnl, self.broker, exec_id),
        )

    def record_adjustment(
        self, strategy_id: str, symbol: str, quantity: float, reason: str, now: datetime
    ) -> None:
        """Change a restored position by ``quantity`` without an execution (an operator's
        reset); ``strategy_id`` UNOWNED: shares the account holds that no strategy owns."""
        self._batch.add(
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
        self._batch.add(
            "INSERT INTO events (run_id, time, kind, strategy_id, message, data) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (self.run_id, now, kind, strategy_id, message, data),
        )

    def record_state(self, kind: str, scope: str | None, reason: str, data: str,
                     now: datetime) -> None:  # fmt: skip
        """A risk state change (``kind`` 'hold' or 'release'); ``data``: the hold as JSON."""
        self._batch.add(
            "INSERT INTO risk_events (run_id, time, strategy_id, kind, reason, intent) "
            "VALUES (?, ?, ?, ?, ?, ?)",
            (self.run_id, now, scope, kind, reason, data),
        )

    def flush(self) -> None:
        """Commit everything pending now (module doc)."""
        self._batch.flush()

    def close(self) -> None:
        self._batch.close()

    def query(self, sql: str, params: Sequence[Any] = ()) -> list[tuple[Any, ...]]:
        """Read-only helper for tests."""
        return list(self._batch.execute(sql, params))


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
