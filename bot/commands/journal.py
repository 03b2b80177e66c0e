"""``ibbot journal CONFIG [--day YYYY-MM-DD]``: a day's orders, fills and realized P&L per
strategy from the journal (default: today, UTC). Exit 0; 2 on a bad config or date; 1 when
there is no journal."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.commands.backtest import parse_day
from bot.config.errors import ConfigError
from bot.config.load import load_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=Path, metavar="CONFIG", help="the YAML config file")
    p.add_argument("--day", type=parse_day, metavar="YYYY-MM-DD",
                   help="the day (default: today, UTC)")


def run(args: argparse.Namespace) -> int:
    from bot.ops.journal_view import day_report
    from bot.ops.tables import render_day

    try:
        cfg = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    path = cfg.journal.path
    if not path.exists():
        print(f"no journal at {path} (journal.path in {args.config})", file=sys.stderr)
        return 1
    print(render_day(day_report(path, args.day or datetime.now(UTC).date())))
    return 0
