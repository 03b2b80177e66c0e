"""``ibbot report OUT_DIR [--config CONFIG]``: report.html and PNG charts for a finished
backtest (its --out folder), as ``ibbot backtest ... --report`` writes them
(bot/backtest/html_report.py). Exit 0 when written, 2 when the folder, its files or the run's
config cannot be read."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("out", type=Path, metavar="OUT_DIR", help="a backtest's --out folder")
    p.add_argument("--config", type=Path, metavar="CONFIG",
                   help="the run's config (default: the one its kpis.json names)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from bot.backtest.html_report import report_command

    return report_command(args.out, args.config)
