"""The journal's ``control`` table (``journal.control``): kill and resume requests, written by
``ibbot kill`` / ``ibbot resume`` from another process and read by the daemon
(bot/risk/kill_switch.py)."""

from __future__ import annotations

from datetime import datetime

from bot.journal.batch import Batch


class ControlRequests:
    def __init__(self, batch: Batch) -> None:
        self._batch = batch

    def request(self, action: str, strategy_id: str | None, reason: str, now: datetime) -> int:
        """Write a kill or resume request now (not buffered: another process reads it)."""
        cur = self._batch.execute(
            "INSERT INTO control (time, action, strategy_id, reason) VALUES (?, ?, ?, ?)",
            (now.isoformat(), action, strategy_id, reason),
        )
        return int(cur.lastrowid or 0)

    def requests(self, after: int = 0) -> list[tuple[int, str, str | None, str]]:
        """Operator requests with an id above ``after``: (id, action, strategy_id, reason)."""
        rows = self._batch.execute(
            "SELECT id, action, strategy_id, reason FROM control WHERE id > ? ORDER BY id",
            (after,),
        )
        return [(int(i), a, s, r) for i, a, s, r in rows]
