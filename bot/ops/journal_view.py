"""A day of the journal, read-only (``ibbot journal``, ``ibbot status`` when the daemon is not
running, the status page's fills): its orders, fills, and per strategy the realized P&L of the
day (average cost over the broker identity's fills up to then) less the day's commissions."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

from bot.journal.queries import open_reader
from bot.model.events import Side
from bot.portfolio.book import Portfolio


@dataclass(frozen=True, slots=True)
class DayReport:
    day: date
    broker: str  # the latest run's broker identity ("" when the journal has no run)
    orders: list[dict[str, Any]] = field(default_factory=list)
    fills: list[dict[str, Any]] = field(default_factory=list)
    pnl: dict[str, dict[str, float]] = field(default_factory=dict)  # sid -> realized, commission
    last_run: dict[str, Any] = field(default_factory=dict)


def latest_day(path: Path) -> date:
    """The day of the journal's newest fill or order (today's date when it has none)."""
    with open_reader(path, replay=True) as journal:
        latest = journal.latest_time()
    return datetime.fromisoformat(latest).date() if latest else datetime.now(UTC).date()


def day_report(path: Path, day: date) -> DayReport:
    with open_reader(path, replay=True) as journal:
        run = journal.last_run()
        if run is None:
            return DayReport(day, "")
        lo, hi = day.isoformat(), date.fromordinal(day.toordinal() + 1).isoformat()
        orders = journal.orders_between(run.broker, lo, hi)
        fills = journal.fills_before(run.broker, hi)
    today = [f for f in fills if f["time"] >= lo]
    return DayReport(day, run.broker, orders, today, _pnl(fills, lo), run.header())


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
