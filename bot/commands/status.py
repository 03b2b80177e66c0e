"""``ibbot status CONFIG``: positions, working orders, today's fills and P&L, risk states and
feed freshness, from the running daemon (its /api/status, at the config's metrics port) or,
when it does not answer, from the journal. Exit 0; 2 on a bad config; 1 when neither the
daemon nor a journal is there."""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from bot.config.bot_config import BotConfig
from bot.config.errors import ConfigError
from bot.config.load import load_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=Path, metavar="CONFIG", help="the YAML config file")
    p.add_argument("--json", action="store_true", help="print the facts as JSON")


def from_daemon(cfg: BotConfig, timeout: float = 3.0) -> dict[str, Any] | None:
    """The running daemon's /api/status; None when nothing answers there."""
    m = cfg.metrics
    if m is None:
        return None
    host = "127.0.0.1" if m.host in ("0.0.0.0", "::") else m.host
    try:
        with urllib.request.urlopen(f"http://{host}:{m.port}/api/status", timeout=timeout) as r:
            data: dict[str, Any] = json.loads(r.read())
            return data
    except (urllib.error.URLError, OSError, ValueError):
        return None


def run(args: argparse.Namespace) -> int:
    from bot.ops.tables import render_status, status_from_journal

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    facts = from_daemon(cfg)
    if facts is None:
        path = cfg.journal.path
        if not path.exists():
            print(f"ibbot is not running (no answer at the metrics port) and there is no "
                  f"journal at {path}", file=sys.stderr)  # fmt: skip
            return 1
        facts = status_from_journal(path)
    print(json.dumps(facts, indent=2, default=str) if args.json else render_status(facts))
    return 0
