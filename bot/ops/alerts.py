"""When to notify: each fill, risk state changes, rejections reaching a rate, a disconnect
lasting over N seconds (and its end), and a daily summary at a UTC time. Fills and rejections
come from the router's observer; the rest from a once-a-second look at the StateSource."""

from __future__ import annotations

import asyncio
import time
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime

from bot.config.ops import NotifyConfig
from bot.model.events import FillEvent, Rejection
from bot.ops.notify import Notice, Notifications
from bot.ops.state import RiskState, StateSource


class Alerts:
    def __init__(
        self,
        cfg: NotifyConfig,
        out: Notifications,
        state: StateSource,
        summary: Callable[[], str],
        wall: Callable[[], float] = time.monotonic,
    ) -> None:
        self.cfg, self.out, self.state, self.summary, self.wall = cfg, out, state, summary, wall
        self.events = set(cfg.events)
        self._rejections: deque[float] = deque()
        self._quiet_until = 0.0  # one rejection-rate notice per minute at most
        self._risk: dict[str, RiskState] = dict(state.risk_states())
        self._down_since: float | None = None
        self._down_told = False
        self._summary_day = datetime.now(UTC).date() if self._past_summary_time() else None

    def _past_summary_time(self) -> bool:
        return datetime.now(UTC).strftime("%H:%M") >= self.cfg.daily_summary_at

    # ---- from the router (synchronous, cheap) ---------------------------------------------

    def fill(self, strategy_id: str, fill: FillEvent) -> None:
        if "fill" in self.events:
            self.out.notify(Notice("fill", f"{strategy_id} {fill.side} {fill.quantity:g} "
                                   f"{fill.symbol} @ {fill.price:g} [{fill.tag}]",
                                   {"strategy": strategy_id, "symbol": fill.symbol,
                                    "side": str(fill.side), "quantity": fill.quantity,
                                    "price": fill.price, "tag": fill.tag}))  # fmt: skip

    def rejection(self, rejection: Rejection) -> None:
        if "rejections" not in self.events:
            return
        now = self.wall()
        q = self._rejections
        q.append(now)
        while q and q[0] <= now - 60.0:
            q.popleft()
        if len(q) >= self.cfg.rejections_per_minute and now >= self._quiet_until:
            self._quiet_until = now + 60.0
            self.out.notify(Notice("rejections", f"{len(q)} rejections in the last minute; "
                                   f"latest {rejection.strategy_id}: {rejection.reason}",
                                   {"count": len(q), "strategy": rejection.strategy_id}))

    # ---- polled -------------------------------------------------------------------------

    async def watch(self, interval: float = 1.0) -> None:
        while True:
            await asyncio.sleep(interval)
            self.check()

    def check(self) -> None:
        self._check_risk()
        self._check_connection()
        self._check_daily()

    def _check_risk(self) -> None:
        now = dict(self.state.risk_states())
        for scope, rs in now.items():
            old = self._risk.get(scope)
            if old is not None and old.state != rs.state and "risk" in self.events:
                why = f": {rs.reason}" if rs.reason else ""
                self.out.notify(Notice("risk", f"risk {scope}: {old.state} -> {rs.state}{why}",
                                       {"scope": scope, "from": old.state, "to": rs.state}))
        self._risk = now

    def _check_connection(self) -> None:
        t, c = self.wall(), self.state.connection()
        if c.ok:
            if self._down_told and "disconnect" in self.events and self._down_since is not None:
                self.out.notify(Notice("reconnect", f"IB connected again after "
                                       f"{t - self._down_since:.0f} s"))  # fmt: skip
            self._down_since, self._down_told = None, False
            return
        if self._down_since is None:
            self._down_since = t
        if not self._down_told and t - self._down_since >= self.cfg.disconnect_after_s:
            self._down_told = True
            if "disconnect" in self.events:
                self.out.notify(Notice("disconnect", f"IB not connected for "
                                       f"{t - self._down_since:.0f} s: {c.describe()}",
                                       {"state": c.name, "why": c.why}))  # fmt: skip

    def _check_daily(self) -> None:
        today = datetime.now(UTC).date()
        if self._summary_day != today and self._past_summary_time():
            self._summary_day = today
            if "daily" in self.events:
                self.out.notify(Notice("daily", self.summary()))
