"""The daemon's operations endpoint: wires metrics, health, the status page, the control channel,
notifications and the systemd watchdog around a running Daemon (bot/live/daemon.py calls
``OpsServer.from_config`` before start-up, ``start`` once live and ``stop`` on the way out).

Routes: GET /metrics, /health (200 or 503 with the reasons), /status (page), /api/status
(JSON), POST /control/<command>.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from bot.ops.alerts import Alerts
from bot.ops.control import Control, DaemonCommands
from bot.ops.freshness import BarClock
from bot.ops.http import HttpServer, Request, Response, json_response
from bot.ops.metrics import CONTENT_TYPE, Metrics
from bot.ops.notify import Notifications, Notifier, Telegram, Webhook
from bot.ops.sd_notify import SdNotify
from bot.ops.state import DaemonState, StateSource
from bot.ops.status_page import PAGE
from bot.ops.view import DaemonView
from bot.runtime.logs import RecentLines, redact
from bot.trading.kernel import StartupError

if TYPE_CHECKING:
    from bot.config.bot_config import BotConfig
    from bot.live.daemon import Daemon

log = logging.getLogger(__name__)


def _secret(env_name: str, where: str) -> str:
    value = os.environ.get(env_name, "")
    if not value:
        raise StartupError(f"{where}: environment variable {env_name} is not set (or empty)")
    redact(value)
    return value


class OpsServer:
    def __init__(self, cfg: BotConfig) -> None:
        self.cfg = cfg
        self.sd = SdNotify()
        if cfg.control is not None and cfg.metrics is None:
            raise StartupError("control: the control channel is served beside /metrics; "
                               "add a metrics section (e.g. metrics: {port: 9108})")
        # Secrets first: a missing one is bad input, found before anything connects.
        token = _secret(cfg.control.token_env, "control.token_env") if cfg.control else None
        self.control = Control(token) if token is not None else None
        self.notifiers: list[Notifier] = []
        if cfg.notify is not None:
            if cfg.notify.webhook is not None:
                self.notifiers.append(Webhook(cfg.notify.webhook))
            if (tg := cfg.notify.telegram) is not None:
                self.notifiers.append(Telegram(tg, _secret(tg.token_env, "notify.telegram")))
        self.recent: RecentLines | None = None
        if cfg.metrics is not None and cfg.metrics.log_lines:
            self.recent = RecentLines(cfg.metrics.log_lines)
            logging.getLogger().addHandler(self.recent)
        self.bars = BarClock()
        self.metrics = Metrics(self.bars)
        self.http: HttpServer | None = None
        self.view: DaemonView | None = None
        self.state: StateSource | None = None
        self.notifications: Notifications | None = None
        self.alerts: Alerts | None = None
        self._tasks: list[asyncio.Task[Any]] = []

    @property
    def port(self) -> int | None:
        return None if self.http is None else self.http.port

    async def start(self, daemon: Daemon) -> None:
        """Once live: observe the router, serve, notify, tell systemd."""
        assert daemon.router is not None and daemon.supervisor is not None
        router = daemon.router
        state = DaemonState(
            daemon.supervisor, router.risk, list(router.slots),  # type: ignore[arg-type]
            daemon.clock.now,
        )
        self.state = state
        gw = daemon.gateway
        market_now = gw.clock.now if gw is not None else (lambda: datetime.now(UTC))
        self.view = DaemonView(daemon, state, self.bars, self.recent, market_now)
        self.metrics.attach(self.view)
        m = self.metrics
        router.bar_event += m.bar
        router.intent_event += m.order
        router.rejection_event += m.rejection
        router.fill_event += m.fill
        if self.cfg.notify is not None:
            self.notifications = Notifications(self.notifiers, self.cfg.notify.queue_size)
            self.notifications.start()
            self.alerts = Alerts(self.cfg.notify, self.notifications, state,
                                 lambda: _daily(self.view))  # fmt: skip
            router.rejection_event += self.alerts.rejection  # after the metrics' own
            router.fill_event += self.alerts.fill
            self._tasks.append(asyncio.create_task(self.alerts.watch(), name="alerts"))
        daemon.ib.connectedEvent += self.bars.restart
        if self.control is not None:
            DaemonCommands(daemon).register(self.control)
        if self.cfg.metrics is not None:
            self.http = HttpServer(self._route, self.cfg.metrics.host, self.cfg.metrics.port)
            await self.http.start()
        self._tasks.append(asyncio.create_task(self.metrics.watch_loop_lag(), name="loop-lag"))
        self._tasks.append(asyncio.create_task(self.sd.watchdog(), name="sd-watchdog"))
        self.sd.ready(f"trading {len(router.slots)} strategies")

    async def stop(self) -> None:
        self.sd.stopping()
        for t in self._tasks:
            t.cancel()
        for t in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await t
        if self.notifications is not None:
            await self.notifications.stop()
        if self.http is not None:
            await self.http.stop()
        if self.recent is not None:
            logging.getLogger().removeHandler(self.recent)

    async def _route(self, req: Request) -> Response:
        view = self.view
        assert view is not None
        path = req.path
        if path.startswith("/control/"):
            if self.control is None:
                return json_response(404, {"error": "no control channel (config: control)"})
            return await self.control.handle(req, path.removeprefix("/control/"))
        if req.method != "GET":
            return json_response(405, {"error": "use GET"})
        if path == "/metrics":
            return Response(200, self.metrics.render(), CONTENT_TYPE)
        if path == "/health":
            h = view.health()
            return json_response(200 if h.ok else 503, h.as_json())
        if path == "/api/status":
            return json_response(200, view.snapshot())
        if path in ("/", "/status"):
            return Response(200, PAGE.encode(), "text/html; charset=utf-8")
        return json_response(404, {"error": f"no page {path}",
                                   "pages": ["/metrics", "/health", "/status", "/api/status"]})


def _daily(view: DaemonView | None) -> str:
    if view is None:
        return "daily summary: not live"
    parts = [f"{s['id']} PnL today {s['pnl_today']:+.2f}, fills {s['fills']}, "
             f"rejections {s['rejections']}" for s in view.strategies()]  # fmt: skip
    pos = ", ".join(f"{p['strategy']} {p['symbol']} {p['quantity']:+g}" for p in view.positions())
    return "daily summary: " + "; ".join(parts) + f"; positions: {pos or 'flat'}"
