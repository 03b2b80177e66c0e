"""The deployment files: the systemd unit passes ``systemd-analyze verify`` (when installed),
the compose file and the example config parse, the Dockerfile and the compose file agree with
each other and with the repository (what can be checked without a Docker daemon; the image
build itself is a slow test that runs where ``docker info`` answers), and the daemon's sd_notify
messages reach a unix datagram socket as systemd expects them."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.config.load import load_config
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


def _compose() -> dict[str, Any]:
    return yaml.safe_load((DEPLOY / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def _instructions() -> list[tuple[str, list[str]]]:
    """The Dockerfile's instructions (continuation lines joined, comments dropped)."""
    text = re.sub(r"\\\n", " ", (DEPLOY / "Dockerfile").read_text())
    out = []
    for line in text.splitlines():
        if line.strip() and not line.lstrip().startswith("#"):
            word, _, rest = line.strip().partition(" ")
            out.append((word.upper(), rest.split()))
    return out


def test_dockerfile_copies_what_the_build_context_has() -> None:
    build = _compose()["services"]["ibbot"]["build"]
    context = (DEPLOY / build["context"]).resolve()
    assert context == ROOT and (context / build["dockerfile"]).is_file()
    sources = [src for word, args in _instructions() if word == "COPY"
               for src in args[:-1] if not src.startswith("--")]  # fmt: skip
    assert sources, "no COPY in deploy/Dockerfile"
    for src in sources:
        assert (context / src).exists(), f"deploy/Dockerfile: COPY {src}: not in {context}"
    # What `pip install .` in the image needs: pyproject's readme and every package.
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["readme"] in sources
    for pattern in project["tool"]["setuptools"]["packages"]["find"]["include"]:
        assert pattern.rstrip("*") in sources, f"package {pattern} not copied into the image"
    # The build's ignore file (next to the Dockerfile) keeps every COPY source.
    kept = [line[1:] for line in (DEPLOY / "Dockerfile.dockerignore").read_text().splitlines()
            if line.startswith("!")]  # fmt: skip
    assert sorted(kept) == sorted(sources)


def test_dockerfile_and_compose_agree() -> None:
    steps = dict(_instructions())
    ibbot = _compose()["services"]["ibbot"]
    cfg = load_config(DEPLOY / "ibbot.yaml", env={"IBBOT_CONTROL_TOKEN": "x"})
    assert cfg.metrics is not None and cfg.metrics.host == "0.0.0.0"  # reachable from outside
    port = str(cfg.metrics.port)
    assert steps["EXPOSE"] == [port]
    assert [p.rsplit(":", 1)[1] for p in ibbot["ports"]] == [port]
    assert f"127.0.0.1:{port}/health" in " ".join(steps["HEALTHCHECK"])
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    [entry] = json.loads(" ".join(steps["ENTRYPOINT"]))  # the exec form: a JSON list
    assert entry in project["scripts"]
    config_in_image = json.loads(" ".join(steps["CMD"]))[-1]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in ibbot["volumes"]}
    assert (DEPLOY / mounts[config_in_image]).resolve() == DEPLOY / "ibbot.yaml"
    # Every variable the compose file needs without a default is in .env.example.
    env = dict(line.split("=", 1) for line in (DEPLOY / ".env.example").read_text().split())
    needed = re.findall(r"\$\{(\w+)\}", (DEPLOY / "docker-compose.yml").read_text())
    assert set(needed) <= set(env), set(needed) - set(env)


@pytest.mark.slow
@pytest.mark.timeout(1900)  # the docker build's own limit, and then some
def test_the_image_builds() -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "info"], capture_output=True,
                                        timeout=30).returncode != 0:  # fmt: skip
        pytest.skip("no Docker daemon here: the image build is not checked")
    done = subprocess.run([docker, "build", "-f", "deploy/Dockerfile", "-t", "ibbot:test", "."],
                          cwd=ROOT, capture_output=True, text=True, timeout=1800)  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]


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
