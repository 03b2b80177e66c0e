"""The ops endpoint of a daemon running against the simulated gateway: /metrics and /health
follow the connection supervisor's states through the gateway's faults (every connection
dropped; 1100 then 1102; a data farm broken then OK) and recover afterwards."""

from __future__ import annotations

import contextlib
import json
import re
import socket
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path

import e2e_strategies  # noqa: F401 (registers e2e_scripted)
import pytest
from e2e_support import ROOT, START, advance, start_gateway
from fault_support import walk
from ops_support import get, metric, ops_config, start
from support.waiting import wait_until

from bot.gateway.server import Gateway
from bot.live.supervisor import ConnState


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = await start_gateway()
    yield gw
    await gw.stop()


async def test_metrics_and_health_follow_a_disconnect(gateway: Gateway, tmp_path: Path) -> None:
    d, task = await start(ops_config(tmp_path, gateway.port))
    try:
        await advance(gateway, 3)
        assert d.router is not None
        await wait_until(lambda: d.router.counters.fills >= 2, what="2 fills")  # type: ignore[union-attr]
        code, body = await get(d, "/health")
        assert code == 200, body
        health = json.loads(body)
        assert (health["status"], health["reasons"]) == ("ok", [])
        assert health["connection"]["state"] == "connected"
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

        # A gateway restart: connections refused until 60 simulated seconds have passed.
        gateway.fault("restart", seconds=60)
        await wait_until(lambda: d.supervisor is not None
                         and d.supervisor.state is ConnState.RECONNECTING, what="reconnecting")
        code, body = await get(d, "/health")
        assert code == 503
        health = json.loads(body)
        since = health["connection"]["since"]
        assert health["connection"] == {"state": "reconnecting", "since": since,
                                        "why": "socket lost"}  # fmt: skip
        assert health["reasons"] == [f"IB connection reconnecting since "
                                     f"{datetime.fromisoformat(since):%Y-%m-%d %H:%M:%S} UTC: "
                                     "socket lost"]  # fmt: skip
        text = (await get(d, "/metrics"))[1].decode()
        assert metric(text, "ibbot_connection_state", state="reconnecting") == 1.0
        assert metric(text, "ibbot_connection_state", state="connected") == 0.0
        stamp = metric(text, "ibbot_connection_state_since_timestamp_seconds")
        assert stamp is not None and 0 <= stamp - datetime.fromisoformat(since).timestamp() < 1

        await walk(gateway, 70, pause=0.03)
        await wait_until(lambda: d.supervisor is not None
                         and d.supervisor.state is ConnState.CONNECTED, 10, what="reconnected")
        await wait_until(lambda: d.feed is not None and d.feed.started, 10, what="resubscribed")
        code, body = await get(d, "/health")
        assert code == 200, body
        assert json.loads(body)["connection"]["why"].startswith("reconnected after")
        text = (await get(d, "/metrics"))[1].decode()
        assert metric(text, "ibbot_reconnects") == 1.0
        assert metric(text, "ibbot_connection_state", state="connected") == 1.0
    finally:
        d.request_stop("test over")
        assert await task == 0


async def test_health_follows_1100_then_1102_and_a_broken_farm(
    gateway: Gateway, tmp_path: Path
) -> None:
    d, task = await start(ops_config(tmp_path, gateway.port))
    try:
        await advance(gateway, 2)
        sup = d.supervisor
        assert sup is not None and (await get(d, "/health"))[0] == 200
        # The farms IB reported as it accepted the connection, before the supervisor ran.
        farms = json.loads((await get(d, "/api/status"))[1])["connection"]["farms"]
        assert {name.split(":")[0] for name, state in farms.items() if state == "ok"} == {
            "market data", "historical data", "security definition"}  # fmt: skip
        gateway.fault("connectivity_lost")
        await wait_until(lambda: sup.state is ConnState.IB_LOST, what="1100 seen")
        code, body = await get(d, "/health")
        assert code == 503
        c = json.loads(body)["connection"]
        assert c["state"] == "connectivity_lost" and c["why"].startswith("1100 ")
        assert json.loads(body)["reasons"][0].startswith("IB connection connectivity lost since")
        text = (await get(d, "/metrics"))[1].decode()
        assert metric(text, "ibbot_connection_state", state="connectivity_lost") == 1.0
        assert metric(text, "ibbot_connection_state", state="connected") == 0.0
        status = json.loads((await get(d, "/api/status"))[1])["connection"]
        assert status["state"] == "connectivity_lost" and status["reconnects"] == 0

        await walk(gateway, 30)
        gateway.fault("connectivity_restored", data="kept")
        await wait_until(lambda: sup.state is ConnState.CONNECTED, what="1102 seen")
        code, body = await get(d, "/health")
        assert code == 200, body
        assert json.loads(body)["connection"]["why"].startswith("1102 ")
        text = (await get(d, "/metrics"))[1].decode()
        assert metric(text, "ibbot_connection_state", state="connected") == 1.0
        assert metric(text, "ibbot_reconnects") == 0.0  # the socket stayed up

        gateway.fault("farm_broken", farm="market")
        await wait_until(lambda: not sup.data_expected, what="farm broken seen")
        code, body = await get(d, "/health")
        assert code == 503
        [farm] = [r for r in json.loads(body)["reasons"] if r.startswith("data farm")]
        assert farm.startswith("data farm market data:") and farm.endswith(" broken")
        name = farm.removeprefix("data farm ").removesuffix(" broken")
        text = (await get(d, "/metrics"))[1].decode()
        assert metric(text, "ibbot_data_farm_ok", farm=name, state="broken") == 0.0
        gateway.fault("farm_ok", farm="market")
        await wait_until(lambda: sup.data_expected, what="farm OK seen")
        text = (await get(d, "/metrics"))[1].decode()
        assert metric(text, "ibbot_data_farm_ok", farm=name, state="ok") == 1.0
        await advance(gateway, 1)
        assert (await get(d, "/health"))[0] == 200
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
        await wait_until(lambda: drain().count(b"WATCHDOG=1") >= 2, what="watchdog beats")
        assert got[0].startswith(b"READY=1")
        d.request_stop("test over")
        assert await task == 0
        assert drain()[-1] == b"STOPPING=1"
    finally:
        sock.close()
