"""What a restart reads back from the journal (``journal.reads``): positions, order sequences
and ids, unfinished orders, seen executions, the portfolio's ledger and day figures, risk
states. Each read sees only the current run's broker identity (bot/journal/store.py), and
flushes the pending rows first, so it sees every row recorded."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.journal.batch import Batch
from bot.journal.schema import END_STATES, UNOWNED


@dataclass(slots=True)
class RunScope:
    """The current run of a journal: set by ``Journal.begin_run``."""

    run_id: int | None = None
    broker: str = ""  # its broker identity; "" before a run begins


class RestartReads:
    def __init__(self, batch: Batch, scope: RunScope) -> None:
        self._batch = batch
        self._scope = scope

    def positions(self) -> dict[tuple[str, str], float]:
        """Net position per (strategy_id, symbol): fills and adjustments of this identity."""
        return {k: q for k, q in self._books().items() if k[0] != UNOWNED}

    def unowned_positions(self) -> dict[str, float]:
        """Per symbol, what the account holds outside the strategies (set by a reset)."""
        return {sym: q for (sid, sym), q in self._books().items() if sid == UNOWNED}

    def _books(self) -> dict[tuple[str, str], float]:
        broker = self._scope.broker
        rows = self._batch.execute(
            "SELECT strategy_id, symbol, SUM(q) FROM ("
            " SELECT strategy_id, symbol, CASE side WHEN 'BUY' THEN quantity ELSE -quantity END"
            " AS q FROM fills WHERE broker = ?"
            " UNION ALL"
            " SELECT strategy_id, symbol, quantity FROM position_adjustments WHERE broker = ?"
            ") GROUP BY strategy_id, symbol",
            (broker, broker),
        )
        return {(s, sym): float(q) for s, sym, q in rows if abs(q) > 1e-9}

    def sequences(self) -> dict[tuple[str, str], int]:
        """Highest order sequence used per (strategy_id, symbol): the next one is one above."""
        rows = self._batch.execute(
            "SELECT strategy_id, symbol, MAX(seq) FROM orders WHERE broker = ? "
            "GROUP BY strategy_id, symbol",
            (self._scope.broker,),
        )
        return {(s, sym): int(q) for s, sym, q in rows}

    def max_order_id(self) -> int:
        """The highest orderId this identity's orders used (0: none)."""
        row = self._batch.execute(
            "SELECT MAX(order_id) FROM orders WHERE broker = ?", (self._scope.broker,)
        ).fetchone()
        return int(row[0] or 0)

    def unfinished_orders(self) -> list[tuple[str, int, int, str, str]]:
        """This identity's orders not in an end state in the journal, oldest first:
        (order_ref, order_id, perm_id, strategy_id, symbol)."""
        marks = ", ".join("?" * len(END_STATES))
        rows = self._batch.execute(
            "SELECT order_ref, order_id, perm_id, strategy_id, symbol FROM orders "
            f"WHERE broker = ? AND (status IS NULL OR status NOT IN ({marks})) "
            "ORDER BY created",
            (self._scope.broker, *END_STATES),
        )
        return [(r, int(i or 0), int(p or 0), s, sym) for r, i, p, s, sym in rows]

    def recent_fills(self, since: datetime) -> Iterator[tuple[str, datetime, str, str]]:
        """(execId, time, strategy_id, symbol) of this identity's fills at or after ``since``
        (a scan of the fills: once, at start-up)."""
        rows = self._batch.execute(
            "SELECT exec_id, time, strategy_id, symbol FROM fills WHERE broker = ?",
            (self._scope.broker,),
        )
        for exec_id, text, sid, symbol in rows:
            when = datetime.fromisoformat(text)
            if when.tzinfo is None or when >= since:  # naive: an old journal's; keep it
                yield exec_id, when, sid, symbol

    def has_fill(self, exec_id: str) -> bool:
        """Whether this identity journalled the execution (the ground truth of dedupe)."""
        row = self._batch.execute(
            "SELECT 1 FROM fills WHERE broker = ? AND exec_id = ?", (self._scope.broker, exec_id)
        ).fetchone()
        return row is not None

    def filled_by_ref(self) -> dict[str, float]:
        """Shares filled per order ref (for orders adopted at a restart)."""
        rows = self._batch.execute(
            "SELECT order_ref, SUM(quantity) FROM fills WHERE broker = ? GROUP BY order_ref",
            (self._scope.broker,),
        )
        return {ref: float(q) for ref, q in rows if ref}

    def ledger(self) -> list[tuple[datetime, str, str, float, float | None, float]]:
        """Fills and adjustments of this identity in time order, as (time, strategy_id,
        symbol, signed quantity, price or None for an adjustment, commission)."""
        broker = self._scope.broker
        rows = self._batch.execute(
            "SELECT time, strategy_id, symbol, q, price, fee FROM ("
            " SELECT time, strategy_id, symbol, CASE side WHEN 'BUY' THEN quantity"
            " ELSE -quantity END AS q, price, commission AS fee, 0 AS k, rowid AS r"
            " FROM fills WHERE broker = ? AND strategy_id != ?"
            " UNION ALL SELECT time, strategy_id, symbol, quantity, NULL, 0, 1, id"
            " FROM position_adjustments WHERE broker = ? AND strategy_id != ?"
            ") ORDER BY time, k, r",
            (broker, UNOWNED, broker, UNOWNED),
        )
        return [(datetime.fromisoformat(t), s, sym, float(q), p, float(f or 0.0))
                for t, s, sym, q, p, f in rows]  # fmt: skip

    def day_figures(self, kind: str, start: datetime) -> dict[str, float] | None:
        """Per-scope figures journalled as ``kind`` events (``day_start``: the last one;
        ``equity_high``: the highest of each) of this identity on the day from ``start``."""
        end = start + timedelta(days=1)
        rows = self._batch.execute(
            "SELECT e.data FROM events e JOIN runs r ON r.id = e.run_id WHERE r.broker = ? "
            "AND e.kind = ? AND e.time >= ? AND e.time < ? ORDER BY e.id",
            (self._scope.broker, kind, start.isoformat(), end.isoformat()),
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
        rows = self._batch.execute(
            "SELECT e.strategy_id, e.kind, e.reason, e.intent FROM risk_events e "
            "JOIN runs r ON r.id = e.run_id WHERE r.broker = ? AND e.kind IN ('hold', 'release')"
            " ORDER BY e.id",
            (self._scope.broker,),
        )
        return [(s, k, r, d) for s, k, r, d in rows]
