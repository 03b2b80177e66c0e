"""Notifications against local receivers: fills, risk changes, rejections over a rate, a long
disconnect and its end, the daily summary, by webhook and by Telegram's sendMessage; a
receiver that hangs leaves trading unaffected; the bot token never reaches the log."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime
from pathlib import Path

import e2e_strategies  # noqa: F401 (registers e2e_scripted)
import pytest
from e2e_support import advance, start_gateway
from ops_support import ops_config, start
from receivers import Receiver
from support.waiting import wait_until

from bot.gateway.server import Gateway
from bot.model.events import FillEvent, KillSwitch, Side

BOT_TOKEN = "123456:telegram-bot-token-for-tests"
STEPS = [{"bar": 1, "symbol": "AAPL", "kind": "buy", "qty": 10, "tag": "e1"},
         {"bar": 3, "symbol": "MSFT", "kind": "buy", "qty": 5, "tag": "e2"}]


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = await start_gateway()
    yield gw
    await gw.stop()


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    r = Receiver()
    yield r
    r.close()


@pytest.fixture
def hanging() -> Iterator[Receiver]:
    r = Receiver(hang=True)
    yield r
    r.close()


async def test_webhook_and_telegram_get_the_events(
    gateway: Gateway, tmp_path: Path, receiver: Receiver, monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setenv("TG_TOKEN", BOT_TOKEN)
    notify = {
        "webhook": {"url": f"{receiver.url}/hook"},
        "telegram": {"token_env": "TG_TOKEN", "chat_id": "42", "base_url": receiver.url},
        "rejections_per_minute": 2, "disconnect_after_s": 0,
        "daily_summary_at": "00:00",
    }
    risk = {"max_position": 1000, "max_order_notional": 100000}
    steps = [*STEPS, {"bar": 2, "symbol": "AAPL", "kind": "buy", "qty": 5000, "tag": "big"},
             {"bar": 2, "symbol": "MSFT", "kind": "buy", "qty": 5000, "tag": "big"}]
    d, task = await start(ops_config(tmp_path, gateway.port, steps, notify=notify, risk=risk))
    try:
        assert d.ops is not None and d.ops.alerts is not None
        alerts = d.ops.alerts
        alerts._summary_day = None  # the daily summary is due (00:00 UTC has passed)
        await advance(gateway, 4)
        await wait_until(lambda: d.router is not None and d.router.counters.fills >= 2,
                         what="fills")  # fmt: skip
        alerts.check()  # daily
        d.router.kill(KillSwitch("test kill", "strategy"), "s1")  # type: ignore[union-attr]
        alerts.check()  # risk: ACTIVE -> HALTED
        gateway.fault("disconnect_all")
        await wait_until(lambda: not d.ib.isConnected(), what="disconnected")
        alerts.check()
        await wait_until(lambda: d.ib.isConnected(), what="reconnected")
        alerts.check()
        want = {"fill", "rejections", "daily", "risk", "disconnect", "reconnect"}
        await wait_until(lambda: want <= set(receiver.kinds()), what=f"notices {want}")
    finally:
        d.request_stop("test over")
        assert await task == 0
    hooks = [p for path, p in receiver.posts if path == "/hook"]
    fill = next(p for p in hooks if p["kind"] == "fill")
    assert (fill["strategy"], fill["symbol"], fill["quantity"]) == ("s1", "AAPL", 10)
    risk_notice = next(p for p in hooks if p["kind"] == "risk")
    assert (risk_notice["scope"], risk_notice["to"]) == ("s1", "HALTED")
    tg = [p for path, p in receiver.posts if path == f"/bot{BOT_TOKEN}/sendMessage"]
    assert tg and all(p["chat_id"] == "42" and p["text"].startswith("ibbot: ") for p in tg)
    assert BOT_TOKEN not in caplog.text


async def test_a_hanging_receiver_does_not_disturb_trading(
    gateway: Gateway, tmp_path: Path, hanging: Receiver, caplog: pytest.LogCaptureFixture
) -> None:
    notify = {"webhook": {"url": hanging.url, "timeout": 0.5}, "queue_size": 2}
    d, task = await start(ops_config(tmp_path, gateway.port, STEPS, notify=notify))
    try:
        assert d.ops is not None and d.ops.notifications is not None
        n = d.ops.notifications
        t0 = time.monotonic()
        for _ in range(10):  # more than the queue holds: dropped, never blocking
            d.ops.alerts.fill("s1", _fill())  # type: ignore[union-attr]
        assert time.monotonic() - t0 < 0.05
        await advance(gateway, 4)
        await wait_until(lambda: d.router is not None and d.router.counters.fills >= 2,
                         what="fills")  # fmt: skip
        assert d.executor is not None and d.executor.position("s1", "MSFT") == 5
        await wait_until(lambda: n.failed >= 1, what="a timed-out notification")
        assert n.dropped >= 1
    finally:
        d.request_stop("test over")
        assert await asyncio.wait_for(task, 10) == 0
    assert "webhook notification (fill) failed" in caplog.text
    assert "notification queue full" in caplog.text



def _fill() -> FillEvent:
    return FillEvent("AAPL", "t", Side.BUY, 1, 1.0, 0.0, datetime.now(UTC), 1, "x")
