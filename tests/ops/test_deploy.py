"""The deployment files: the systemd unit passes ``systemd-analyze verify`` (when installed),
the compose file and the example config parse, and the daemon's sd_notify messages reach a
unix datagram socket as systemd expects them."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from bot.config import load_config
from bot.ops.sd_notify import SdNotify

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"


def test_unit_file_verifies(tmp_path: Path) -> None:
    tool = shutil.which("systemd-analyze")
    if tool is None:
        pytest.skip("systemd-analyze not installed")
    unit = (DEPLOY / "ibbot.service").read_text()
    assert "Restart=on-failure" in unit and "Type=notify" in unit and "WatchdogSec=" in unit
    # verify checks that ExecStart is executable: point it at this checkout's ibbot.
    ibbot = Path(sys.executable).parent / "ibbot"
    (tmp_path / "ibbot.service").write_text(unit.replace("/opt/ibbot/.venv/bin/ibbot", str(ibbot)))
    done = subprocess.run([tool, "verify", str(tmp_path / "ibbot.service")],
                          capture_output=True, text=True, timeout=60)
    problems = [line for line in done.stderr.splitlines() if "ibbot.service" in line]
    assert done.returncode == 0 and problems == [], done.stderr


def test_compose_file_parses_and_keeps_ports_on_loopback() -> None:
    compose = yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())
    services = compose["services"]
    assert services["ib-gateway"]["image"].startswith("ghcr.io/gnzsnz/ib-gateway")
    assert services["ibbot"]["build"]["dockerfile"] == "deploy/Dockerfile"
    for svc in services.values():
        assert all(p.startswith("127.0.0.1:") for p in svc["ports"]), svc["ports"]
    assert (DEPLOY / "Dockerfile").read_text().count("HEALTHCHECK") == 1


def test_example_deploy_config_is_valid() -> None:
    cfg = load_config(DEPLOY / "ibbot.yaml", env={"IBBOT_CONTROL_TOKEN": "x"})
    assert cfg.metrics is not None and cfg.metrics.port == 9108
    assert cfg.control is not None and cfg.control.token_env == "IBBOT_CONTROL_TOKEN"


async def test_sd_notify_ready_watchdog_stopping(tmp_path: Path) -> None:
    path = tmp_path / "notify.sock"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    try:
        sd = SdNotify({"NOTIFY_SOCKET": str(path), "WATCHDOG_USEC": "200000",
                       "WATCHDOG_PID": str(os.getpid())})
        assert sd.watchdog_s == 0.2
        sd.ready("trading 1 strategies")
        assert sock.recv(256) == b"READY=1\nSTATUS=trading 1 strategies"
        task = asyncio.create_task(sd.watchdog())
        await asyncio.sleep(0.25)  # every half of WATCHDOG_USEC: 3 by now (0, 0.1, 0.2)
        task.cancel()
        beats = [sock.recv(256) for _ in range(3)]
        assert beats == [b"WATCHDOG=1"] * 3
        sd.stopping()
        assert sock.recv(256) == b"STOPPING=1"
    finally:
        sock.close()


def test_sd_notify_is_silent_outside_systemd() -> None:
    sd = SdNotify({})
    assert not sd.enabled and sd.watchdog_s is None
    assert sd.send("READY=1") is False
    other = SdNotify({"NOTIFY_SOCKET": "/nonexistent", "WATCHDOG_USEC": "1000000",
                      "WATCHDOG_PID": "1"})  # another process's watchdog
    assert other.watchdog_s is None
