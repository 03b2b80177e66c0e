"""``ibbot resume CONFIG [--strategy ID] [--dry-run]``: lift a kill (and the day's limits).

Writes a resume request into the config's journal (bot/risk_control.py): a running daemon acts
within a second, a stopped one at its next start. Resuming the account while its kill file
exists kills it again: remove the file first. Exit 2 on a bad config or an unknown strategy.
"""

from __future__ import annotations

import argparse

from bot.risk_control import RESUME, request_from_cli

HELP = "lift the kill switch (and the day's limits) of the account or one strategy"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", metavar="CONFIG", help="the YAML config of the daemon")
    p.add_argument("--strategy", metavar="ID", help="resume one strategy (default: the account)")
    p.add_argument("--reason", default="operator resume", help="journalled with the resume")
    p.add_argument("--dry-run", action="store_true",
                   help="the dry run's journal (also when the config sets dry_run)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    return request_from_cli(RESUME, args)
