"""The running daemon's facts as plain JSON-ready data: what /api/status serves, the status page
shows and ``ibbot status`` prints. Read-only; built per request (never on the event path)."""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.live.supervisor import ConnStatus
from bot.ops.freshness import BarClock, Freshness
from bot.ops.journal_view import day_report
from bot.ops.state import StateSource
from bot.runtime.logs import RecentLines

if TYPE_CHECKING:
    from bot.live.daemon import Daemon


@dataclass(frozen=True, slots=True)
class Health:
    ok: bool
    reasons: tuple[str, ...]
    connection: ConnStatus

    def as_json(self) -> dict[str, Any]:
        return {"status": "ok" if self.ok else "unhealthy", "reasons": list(self.reasons),
                "connection": _connection(self.connection)}  # fmt: skip


def _connection(c: ConnStatus) -> dict[str, Any]:
    """The supervisor's state, since when (IB server time, ISO) and why."""
    return {"state": c.name, "since": c.since.isoformat(timespec="seconds"), "why": c.why}


class DaemonView:
    def __init__(
        self,
        daemon: Daemon,
        state: StateSource,
        bars: BarClock,
        recent: RecentLines | None,
        market_now: Callable[[], datetime],
    ) -> None:
        self.d, self.state, self.bars, self.recent = daemon, state, bars, recent
        self.market_now = market_now

    def freshness(self) -> list[Freshness]:
        feed = self.d.feed
        if feed is None:
            return []
        return self.bars.report(list(feed.streams), self.d.infos, self.market_now())

    def health(self) -> Health:
        """Connected (the supervisor's CONNECTED, no data farm broken), every subscription
        fresh, and the journal writable."""
        reasons = []
        c = self.state.connection()
        if not c.ok:
            reasons.append(f"IB connection {c.describe()}")
        reasons += [f"data farm {farm} broken" for farm, s in sorted(c.farms.items())
                    if s == "broken"]  # fmt: skip
        if c.ok:  # while disconnected no bar can come: the connection is the reason
            for f in self.freshness():
                if f.stale:
                    reasons.append(
                        f"{f.label}: no bar for {f.age_s:.0f} s (limit {f.limit_s:.0f} s)"
                    )
        if (why := self._journal_problem()) is not None:
            reasons.append(why)
        return Health(not reasons, tuple(reasons), c)

    def _journal_problem(self) -> str | None:
        j = self.d.journal
        if j is None:
            return "journal not open"
        if j.failure is not None:  # a write failed: no new order is sent (bot/journal/store.py)
            return j.failure
        if not os.access(j.path, os.W_OK) or not os.access(j.path.parent, os.W_OK):
            return f"journal {j.path} not writable"
        return None

    def positions(self) -> list[dict[str, Any]]:
        ex = self.d.executor
        if ex is None:
            return []
        return [{"strategy": sid, "symbol": sym, "quantity": q}
                for (sid, sym), q in sorted(ex.positions().items()) if abs(q) > 1e-9]  # fmt: skip

    def working_orders(self) -> list[dict[str, Any]]:
        ex, router = self.d.executor, self.d.router
        if ex is None or router is None:
            return []
        out = []
        for sid, slot in router.slots.items():
            for sym in sorted(slot.symbols):
                for tag, w in ex.working_orders(sid, sym).items():
                    s = w.spec
                    out.append({
                        "strategy": sid, "symbol": sym, "tag": tag, "order_id": w.order_id,
                        "side": str(s.action), "quantity": s.quantity, "type": str(s.order_type),
                        "limit": s.limit_price, "stop": s.stop_price, "filled": w.filled,
                        "status": w.status,
                    })  # fmt: skip
        return out

    def strategies(self) -> list[dict[str, Any]]:
        router = self.d.router
        if router is None:
            return []
        risk = self.state.risk_states()
        return [{
            "id": sid, "enabled": slot.enabled, "bars": slot.bars, "fills": slot.fills,
            "rejections": slot.rejections, "pnl_today": router.pnl.today(sid),
            "pnl_total": router.pnl.total(sid),
            "risk": (r.state if (r := risk.get(sid)) else "n/a"),
        } for sid, slot in router.slots.items()]  # fmt: skip

    def fills_today(self) -> list[dict[str, Any]]:
        j = self.d.journal
        if j is None:
            return []
        j.flush()
        return day_report(j.path, self.d.clock.now().date()).fills

    def snapshot(self) -> dict[str, Any]:
        d, st = self.d, self.state
        return {
            "time": datetime.now(UTC).isoformat(),
            "market_time": d.clock.now().isoformat(),
            "source": "daemon",
            "account": d.account, "mode": d.cfg.mode, "dry_run": d.dry_run,
            "uptime_s": d.uptime,
            "health": self.health().as_json(),
            "connection": {**_connection(c := st.connection()), "reconnects": c.reconnects,
                           "farms": dict(c.farms)},
            "risk": {k: {"state": v.state, "reason": v.reason}
                     for k, v in st.risk_states().items()},
            "strategies": self.strategies(),
            "positions": self.positions(),
            "working_orders": self.working_orders(),
            "fills_today": self.fills_today(),
            "feeds": [{"subscription": f.label, "age_s": round(f.age_s, 1),
                       "limit_s": f.limit_s, "liquid": f.liquid, "stale": f.stale}
                      for f in self.freshness()],
            "log": list(self.recent.lines) if self.recent is not None else [],
        }  # fmt: skip
