"""A daemon with the ops endpoint against the simulated gateway, and a plain HTTP client."""

from __future__ import annotations

import asyncio
import json
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from e2e_support import scripted, write_config
from support.waiting import wait_until

from bot.config.load import load_config
from bot.live.daemon import Daemon, RunOptions
from bot.ops.server import OpsServer

TOKEN = "s3cret-control-token-for-tests"
STEPS = [
    {"bar": 1, "symbol": "AAPL", "kind": "buy", "qty": 10, "tag": "e1"},
    {"bar": 2, "symbol": "MSFT", "kind": "buy", "qty": 5, "tag": "e2"},
]


def ops_config(tmp: Path, port: int, steps: list[dict[str, Any]] = STEPS, **extra: Any) -> Path:
    extra.setdefault("metrics", {"port": 0})
    extra.setdefault("ib", {"reconnect": {"initial": 0.1, "max": 0.2, "jitter": 0}})
    return write_config(tmp, port, [scripted("s1", steps)], **extra)


async def start(path: Path, **opts: Any) -> tuple[Daemon, asyncio.Task[int]]:
    d = Daemon(load_config(path), RunOptions(handle_signals=False, print_summary=False, **opts),
               ops=OpsServer)
    task = asyncio.create_task(d.run())
    await wait_until(lambda: task.done() or (d.ready is not None and d.ready.is_set()), 15,
                     what="daemon ready")
    assert not task.done(), task.result()
    return d, task


def url(d: Daemon, path: str) -> str:
    assert d.ops is not None
    return f"http://127.0.0.1:{d.ops.port}{path}"


def _fetch(u: str, data: bytes | None, headers: dict[str, str]) -> tuple[int, bytes]:
    req = urllib.request.Request(u, data=data, headers=headers,
                                 method="POST" if data is not None else "GET")
    try:
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


async def get(d: Daemon, path: str) -> tuple[int, bytes]:
    return await asyncio.to_thread(_fetch, url(d, path), None, {})


async def post(d: Daemon, command: str, body: dict[str, Any], token: str | None = TOKEN
               ) -> tuple[int, dict[str, Any]]:
    headers = {"Content-Type": "application/json"}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    code, raw = await asyncio.to_thread(_fetch, url(d, f"/control/{command}"),
                                        json.dumps(body).encode(), headers)
    return code, json.loads(raw)


def metric(text: str, name: str, **labels: str) -> float | None:
    """The value of one sample of the exposition text."""
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        sample = head.split("{", 1)
        if sample[0] != name:
            continue
        got = dict(kv.split("=", 1) for kv in sample[1].rstrip("}").split(",")) if len(
            sample) > 1 and sample[1] != "}" else {}
        if all(got.get(k) == f'"{v}"' for k, v in labels.items()):
            return float(value)
    return None
