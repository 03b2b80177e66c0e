"""The ops endpoint of a daemon running against the simulated gateway: /metrics and /health
change when the gateway drops every connection, and recover after the reconnect."""

from __future__ import annotations

import contextlib
import json
import re
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import e2e_strategies  # noqa: F401 (registers e2e_scripted)
import pytest
from e2e_support import ROOT, START, advance, start_gateway, until
from ops_support import get, metric, ops_config, start

from bot.gateway.server import Gateway


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = await start_gateway()
    yield gw
    await gw.stop()


async def test_metrics_and_health_follow_a_disconnect(gateway: Gateway, tmp_path: Path) -> None:
    d, task = await start(ops_config(tmp_path, gateway.port))
    try:
        await advance(gateway, 3)
        assert d.engine is not None
        await until(lambda: d.engine.counters.fills >= 2, what="2 fills")  # type: ignore[union-attr]
        code, body = await get(d, "/health")
        assert code == 200, body
        assert json.loads(body) == {"status": "ok", "reasons": []}
        code, raw = await get(d, "/metrics")
        text = raw.decode()
        assert code == 200
        assert metric(text, "ibbot_connection_state", state="connected") == 1.0
        assert metric(text, "ibbot_orders_total", strategy="s1") == 2.0
        assert metric(text, "ibbot_fills_total", strategy="s1", symbol="AAPL") == 1.0
        assert metric(text, "ibbot_position", strategy="s1", symbol="AAPL") == 10.0
        assert metric(text, "ibbot_position", strategy="s1", symbol="MSFT") == 5.0
        assert metric(text, "ibbot_risk_state", scope="s1", state="ACTIVE") == 1.0
        assert metric(text, "ibbot_bar_to_order_seconds_count") == 2.0
        age = metric(text, "ibbot_bar_age_seconds", symbol="AAPL", bar_size="1 min")
        assert age is not None and 0 <= age < 120
        assert metric(text, "ibbot_reconnects") == 0.0
        assert metric(text, "ibbot_event_loop_lag_seconds") is not None
        assert metric(text, "ibbot_pnl_today", strategy="s1") is not None
        readme = (ROOT / "README.md").read_text().split("**Metrics**")[1].split("**Status")[0]
        for name in re.findall(r"`(ibbot_[a-z_]+)`", readme):
            assert f"# TYPE {name} " in text, f"README names {name}, /metrics has not"

        gateway.fault("disconnect_all")
        await until(lambda: not d.ib.isConnected(), what="disconnected")
        code, body = await get(d, "/health")
        assert code == 503
        assert json.loads(body)["reasons"] == ["IB connection disconnected"]
        text = (await get(d, "/metrics"))[1].decode()
        assert metric(text, "ibbot_connection_state", state="disconnected") == 1.0

        await until(lambda: d.ib.isConnected(), 10, what="reconnected")
        await until(lambda: d.feed is not None and d.feed.started, 10, what="resubscribed")
        code, body = await get(d, "/health")
        assert code == 200, body
        text = (await get(d, "/metrics"))[1].decode()
        assert metric(text, "ibbot_reconnects") == 1.0
        assert metric(text, "ibbot_connection_state", state="connected") == 1.0
    finally:
        d.request_stop("test over")
        assert await task == 0


async def test_health_names_a_stale_feed(gateway: Gateway, tmp_path: Path) -> None:
    d, task = await start(ops_config(tmp_path, gateway.port))
    try:
        assert d.ops is not None and d.ops.view is not None
        # A gateway that is not embedded: the ops endpoint reads liquid hours on the wall
        # clock; here the market's time is the simulated one.
        d.ops.view.market_now = lambda: START
        d.ops.bars.wall = lambda: 1e9  # a long time without bars
        code, body = await get(d, "/health")
        assert code == 503
        reasons = json.loads(body)["reasons"]
        assert any(r.startswith("AAPL 1 min: no bar for") for r in reasons), reasons

        d.ops.view.market_now = lambda: START.replace(hour=23)  # after the close: fine
        assert (await get(d, "/health"))[0] == 200
    finally:
        d.request_stop("test over")
        assert await task == 0


async def test_daemon_tells_systemd(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.setblocking(False)
    monkeypatch.setenv("NOTIFY_SOCKET", str(path))
    monkeypatch.setenv("WATCHDOG_USEC", "100000")
    monkeypatch.delenv("WATCHDOG_PID", raising=False)
    got: list[bytes] = []

    def drain() -> list[bytes]:
        with contextlib.suppress(BlockingIOError):
            while True:
                got.append(sock.recv(256))
        return got

    try:
        d, task = await start(ops_config(tmp_path, gateway.port))
        await until(lambda: drain().count(b"WATCHDOG=1") >= 2, what="watchdog beats")
        assert got[0].startswith(b"READY=1")
        d.request_stop("test over")
        assert await task == 0
        assert drain()[-1] == b"STOPPING=1"
    finally:
        sock.close()
