"""Helpers for the end-to-end tests: the simulated gateway on a manual clock, config files,
journal reads, and waiting on conditions instead of sleeping fixed times."""

from __future__ import annotations

import asyncio
import sqlite3
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from support.times import SAMPLE_T0

from bot.config.gateway import GatewaySettings
from bot.gateway.server import Gateway

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
START = SAMPLE_T0
PAPER = "DU1234567"


async def start_gateway(account: str = PAPER, speed: float | None = None,
                        participation: float | None = None) -> Gateway:  # fmt: skip
    gw = Gateway(
        GatewaySettings(
            port=0,
            data=ROOT / "data" / "sample",
            instruments=ROOT / "config" / "instruments.yaml",
            start=START,
            speed=speed,
            account=account,
            participation=participation,
        )
    )
    await gw.start()
    return gw


def write_config(
    tmp: Path,
    port: int,
    strategies: list[dict[str, Any]],
    *,
    symbols: tuple[str, ...] = ("AAPL", "MSFT"),
    dry_run: bool = False,
    client_id: int = 21,
    ib: dict[str, Any] | None = None,
    **extra: Any,
) -> Path:
    """``ib``: more keys of the ``ib`` section (reconnect, watchdog, ...)."""
    cfg = {
        "ib": {"host": "127.0.0.1", "port": port, "client_id": client_id, "connect_timeout": 5,
               **(ib or {})},
        "dry_run": dry_run,
        "universe": {
            "defaults": {"primary_exchange": "NASDAQ"},
            "symbols": list(symbols),
        },
        "strategies": strategies,
        "risk": {"max_position": 1000, "max_order_notional": 100000},
        "journal": {"path": str(tmp / "journal.sqlite")},
        "status_interval": "1h",
        **extra,
    }
    path = tmp / "bot.yaml"
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return path


def scripted(sid: str, steps: list[dict[str, Any]], symbols: list[str] | None = None,
             **kw: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "id": sid,
        "class": "e2e_scripted",
        "symbols": symbols or ["AAPL", "MSFT"],
        "bars": {"size": "1 min", "warmup": "1 D"},
        "params": {"steps": steps},
        "sizing": {"fixed": 1},
        **kw,
    }


async def advance(gw: Gateway, minutes: float, step_s: float = 5.0) -> None:
    """Step the manual clock in 5-second steps, letting the bot read between them."""
    for _ in range(int(minutes * 60 / step_s)):
        await gw.advance(timedelta(seconds=step_s))
        await asyncio.sleep(0)


def journal_rows(path: Path, sql: str) -> list[tuple[Any, ...]]:
    db = sqlite3.connect(path)
    try:
        return list(db.execute(sql))
    finally:
        db.close()


def write_plugin(tmp: Path) -> Path:
    """A dist-info declaring the e2e strategies as an ``ibbot.strategies`` entry point; put
    ``tmp`` and this folder on PYTHONPATH and a fresh interpreter finds them."""
    info = tmp / "ibbot_e2e_plugin-0.1.dist-info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: ibbot-e2e-plugin\nVersion: 0.1\n")
    (info / "entry_points.txt").write_text("[ibbot.strategies]\ne2e = e2e_strategies\n")
    return tmp
