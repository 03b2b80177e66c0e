"""A day of the journal, read-only (``ibbot journal``, ``ibbot status`` when the daemon is not
running, the status page's fills): its orders, fills, and per strategy the realized P&L of the
day (average cost over the broker identity's fills up to then) less the day's commissions."""

from __future__ import annotations

import logging
import sqlite3
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.journal.store import replay_write_ahead
from bot.model.events import Side
from bot.portfolio.book import Portfolio

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class DayReport:
    day: date
    broker: str  # the latest run's broker identity ("" when the journal has no run)
    orders: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    pnl: dict[str, dict[str, float]] = field(default_factory=dict)  # sid -> realized, commission
    last_run: dict[str, Any] = field(default_factory=dict)


def _connect(path: Path) -> sqlite3.Connection:
    if not path.exists():
        raise FileNotFoundError(f"no journal at {path}")
    try:  # the orders a killed daemon journalled in its last moments (bot/journal/write_ahead.py)
        replay_write_ahead(path)
    except sqlite3.Error as e:  # a read-only copy: its last orders are in the file only
        log.warning("%s: write-ahead lines not replayed: %s", path, e)
    db = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True)
    db.row_factory = sqlite3.Row
    return db


def latest_day(path: Path) -> date:
    """The day of the journal's newest fill or order (today's date when it has none)."""
    with _connect(path) as db:
        row = db.execute("SELECT MAX(t) FROM (SELECT MAX(time) t FROM fills UNION ALL "
                         "SELECT MAX(updated) FROM orders)").fetchone()  # fmt: skip
    return datetime.fromisoformat(row[0]).date() if row and row[0] else datetime.now(UTC).date()


def day_report(path: Path, day: date) -> DayReport:
    db = _connect(path)
    try:
        run = db.execute("SELECT * FROM runs ORDER BY id DESC LIMIT 1").fetchone()
        if run is None:
            return DayReport(day, "")
        broker = run["broker"]
        lo, hi = day.isoformat(), date.fromordinal(day.toordinal() + 1).isoformat()
        orders = [dict(r) for r in db.execute(
            "SELECT created, updated, strategy_id, symbol, tag, order_ref, action, order_type, "
            "quantity, lmt_price, aux_price, status, filled, avg_fill_price FROM orders "
            "WHERE broker = ? AND updated >= ? AND created < ? ORDER BY created",
            (broker, lo, hi))]  # fmt: skip
        fills = [dict(r) for r in db.execute(
            "SELECT time, strategy_id, symbol, tag, side, quantity, price, commission, "
            "order_ref, exec_id FROM fills WHERE broker = ? AND time < ? ORDER BY time",
            (broker, hi))]  # fmt: skip
        last = {k: run[k] for k in ("id", "started", "ended", "account", "mode", "dry_run")}
    finally:
        db.close()
    today = [f for f in fills if f["time"] >= lo]
    return DayReport(day, broker, orders, today, _pnl(fills, lo), last)


def _pnl(fills: list[dict[str, Any]], day_start: str) -> dict[str, dict[str, float]]:
    book = Portfolio(UTC)
    before: dict[str, float] = {}
    out: dict[str, dict[str, float]] = {}
    for f in fills:
        sid = f["strategy_id"]
        if f["time"] >= day_start:
            if sid not in out:
                before[sid] = book.realized(sid)
                out[sid] = {"realized": 0.0, "commission": 0.0, "fills": 0}
            out[sid]["commission"] += f["commission"] or 0.0
            out[sid]["fills"] += 1
        signed = f["quantity"] * Side(f["side"]).sign
        book.on_fill(sid, f["symbol"], signed, f["price"], datetime.fromisoformat(f["time"]))
    for sid, row in out.items():
        row["realized"] = book.realized(sid) - before[sid]
        row["net"] = row["realized"] - row["commission"]
    return out
