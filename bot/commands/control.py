"""``ibbot control CONFIG COMMAND [--strategy ID] [--params JSON]``: send a command to the
running daemon's control channel (POST /control/COMMAND at the config's metrics port, with the
token from the env variable named by ``control.token_env``). Commands: stop-entries,
resume-entries, flatten, reload (bot/ops/control.py). Exit 0 when done; 2 when refused (bad
input, wrong token); 1 when the daemon does not answer."""

from __future__ import annotations

import argparse
import json
import os
import sys
import urllib.error
from pathlib import Path
from typing import Any

from bot.config.errors import ConfigError
from bot.config.load import load_config
from bot.ops.control_client import send


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=Path, metavar="CONFIG", help="the YAML config file")
    p.add_argument("command", metavar="COMMAND",
                   help="stop-entries | resume-entries | flatten | reload")
    p.add_argument("--strategy", metavar="ID", help="the strategy (all when left out, where "
                   "the command allows it)")  # fmt: skip
    p.add_argument("--params", metavar="JSON", help='reload: e.g. \'{"fast": 8}\'')


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    if cfg.control is None or cfg.metrics is None:
        print(f"{args.config}: no control channel (add control: and metrics: sections)",
              file=sys.stderr)  # fmt: skip
        return 2
    token = os.environ.get(cfg.control.token_env, "")
    if not token:
        print(f"set {cfg.control.token_env} to the daemon's control token", file=sys.stderr)
        return 2
    body: dict[str, Any] = {}
    if args.strategy:
        body["strategy"] = args.strategy
    if args.params is not None:
        try:
            body["params"] = json.loads(args.params)
        except ValueError as e:
            print(f"--params: not JSON: {e}", file=sys.stderr)
            return 2
    try:
        code, answer = send(cfg.metrics.port, args.command, body, token)
    except (urllib.error.URLError, OSError) as e:
        print(f"the daemon does not answer on port {cfg.metrics.port}: {e}", file=sys.stderr)
        return 1
    if code != 200:
        print(f"refused ({code}): {answer.get('error', answer)}", file=sys.stderr)
        return 2
    print(json.dumps(answer))
    return 0
