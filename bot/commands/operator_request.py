"""What ``ibbot kill`` and ``ibbot resume`` share: their arguments, and the request itself,
through a running daemon's control channel or else into the config's journal (the daemon's
side: bot/risk/kill_switch.py)."""

from __future__ import annotations

import argparse
import os
import sys
import urllib.error
from datetime import UTC, datetime
from pathlib import Path

from bot.config.bot_config import BotConfig
from bot.config.errors import ConfigError
from bot.config.load import load_config
from bot.journal.store import Journal, dry_run_path
from bot.ops.control_client import send
from bot.risk.kill_switch import POLL_S


def add_request_arguments(p: argparse.ArgumentParser, verb: str) -> None:
    """The arguments of ``ibbot kill`` and ``ibbot resume`` (``verb``: "kill" or "resume")."""
    p.add_argument("config", metavar="CONFIG", help="the YAML config of the daemon")
    p.add_argument("--strategy", metavar="ID", help=f"{verb} one strategy (default: the account)")
    p.add_argument("--reason", default=f"operator {verb}", help=f"journalled with the {verb}")
    p.add_argument("--dry-run", action="store_true",
                   help="the dry run's journal (also when the config sets dry_run)")  # fmt: skip


def request_from_cli(action: str, args: argparse.Namespace) -> int:
    """``ibbot kill`` / ``ibbot resume``: validate, write the request, say what happens next.
    (The wall clock is right here: the operator's request is not an event of the market.)"""
    try:
        cfg = load_config(Path(args.config))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    sid: str | None = args.strategy
    ids = [s.id for s in cfg.strategies]
    if sid is not None and sid not in ids:
        print(f"{args.config}: no strategy {sid!r} (strategies: {', '.join(ids)})",
              file=sys.stderr)  # fmt: skip
        return 2
    sent = _through_channel(cfg, action, sid, args.reason)
    if sent is not None:
        return sent
    path = dry_run_path(cfg.journal.path) if args.dry_run or cfg.dry_run else cfg.journal.path
    journal = Journal(path)
    try:
        rid = journal.control.request(action, sid, args.reason or action, datetime.now(UTC))
    finally:
        journal.close()
    scope = f"strategy {sid}" if sid else "the account"
    print(f"{action} of {scope} requested (#{rid} in {path}); a running daemon acts within "
          f"{POLL_S:g} s, otherwise its next start does")  # fmt: skip
    return 0


def _through_channel(cfg: BotConfig, action: str, sid: str | None, reason: str) -> int | None:
    """A running daemon with a control channel (``control:`` and ``metrics:``) takes the
    request at once; None when there is no channel, no token, or no daemon answering (then
    the journal request reaches it within a second, or its next start)."""
    if cfg.control is None or cfg.metrics is None or not cfg.metrics.port:
        return None
    token = os.environ.get(cfg.control.token_env, "")
    if not token:
        return None
    try:
        code, body = send(cfg.metrics.port, action, {"strategy": sid, "reason": reason}, token)
    except (urllib.error.URLError, OSError):
        return None  # not running: the journal carries it to the next start
    if code != 200:
        print(f"ibbot {action}: the daemon refused: {body.get('error', code)}", file=sys.stderr)
        return 2
    scope = f"strategy {sid}" if sid else "the account"
    print(f"{action} of {scope}: done by the running daemon (request #{body['request']})")
    return 0
