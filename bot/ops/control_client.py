"""The client side of the daemon's control channel: one POST to /control/COMMAND on the
loopback metrics port, with the bearer token (the server: bot/ops/control.py)."""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any


def send(port: int, command: str, body: dict[str, Any], token: str,
         timeout: float = 5.0) -> tuple[int, dict[str, Any]]:  # fmt: skip
    req = urllib.request.Request(
        f"http://127.0.0.1:{port}/control/{command}", data=json.dumps(body).encode(),
        method="POST",
        headers={"Content-Type": "application/json", "Authorization": f"Bearer {token}"},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read() or b"{}")
