"""Notifications: a small pluggable interface (``Notifier.send``), a webhook (JSON POST) and
Telegram (Bot API ``sendMessage``; the token from an env variable, the base URL configurable so
tests point it at a local receiver).

Failing to notify never disturbs trading: ``Notifications.notify`` only puts the notice on a
bounded queue (a full queue drops it, logged); one background task sends each notice with a
timeout, in a worker thread, and logs failures.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import urllib.request
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from bot.config.ops import TelegramConfig, WebhookConfig
from bot.runtime.deadlines import within

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class Notice:
    kind: str  # fill | risk | rejections | disconnect | reconnect | daily
    text: str
    data: dict[str, Any] = field(default_factory=dict)
    time: datetime = field(default_factory=lambda: datetime.now(UTC))


class Notifier(Protocol):
    name: str
    timeout: float

    def send(self, notice: Notice) -> None:
        """Deliver or raise; runs in a worker thread, must give up after ``timeout``."""


def _post_json(url: str, payload: dict[str, Any], timeout: float) -> None:
    req = urllib.request.Request(
        url, data=json.dumps(payload, default=str).encode(), method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "ibbot"},
    )  # fmt: skip
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        resp.read()


class Webhook:
    name = "webhook"

    def __init__(self, cfg: WebhookConfig) -> None:
        self.url, self.timeout = cfg.url, cfg.timeout

    def send(self, notice: Notice) -> None:
        payload = {"kind": notice.kind, "text": notice.text, "time": notice.time.isoformat(),
                   **notice.data}  # fmt: skip
        _post_json(self.url, payload, self.timeout)


class Telegram:
    name = "telegram"

    def __init__(self, cfg: TelegramConfig, token: str) -> None:
        self.url = f"{cfg.base_url.rstrip('/')}/bot{token}/sendMessage"
        self.chat_id, self.timeout = cfg.chat_id, cfg.timeout

    def send(self, notice: Notice) -> None:
        _post_json(self.url, {"chat_id": self.chat_id, "text": f"ibbot: {notice.text}"},
                   self.timeout)  # fmt: skip


class Notifications:
    def __init__(self, notifiers: list[Notifier], queue_size: int = 100) -> None:
        self.notifiers = notifiers
        self.queue: asyncio.Queue[Notice] = asyncio.Queue(queue_size)
        self.sent = self.failed = self.dropped = 0
        self._task: asyncio.Task[None] | None = None

    def notify(self, notice: Notice) -> None:
        """Never blocks, never raises."""
        try:
            self.queue.put_nowait(notice)
        except asyncio.QueueFull:
            self.dropped += 1
            log.warning("notification queue full: %s notice dropped", notice.kind)

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="notify")

    async def stop(self, grace: float = 1.0) -> None:
        """Send what is queued within ``grace`` seconds, then give up."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await within(self.queue.join(), grace)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task

    async def _run(self) -> None:
        while True:
            notice = await self.queue.get()
            try:
                for n in self.notifiers:
                    await self._send(n, notice)
            finally:
                self.queue.task_done()

    async def _send(self, n: Notifier, notice: Notice) -> None:
        try:
            await within(asyncio.to_thread(n.send, notice), n.timeout + 1.0)
            self.sent += 1
        except Exception as e:  # the receiver's problem, never the trader's
            self.failed += 1
            log.warning("%s notification (%s) failed: %s", n.name, notice.kind,
                        e or type(e).__name__)  # fmt: skip
