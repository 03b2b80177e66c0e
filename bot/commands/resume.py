"""``ibbot resume CONFIG [--strategy ID] [--dry-run]``: lift a kill (and the day's limits).

Writes a resume request into the config's journal (bot/risk/kill_switch.py): a running daemon acts
within a second, a stopped one at its next start. Resuming the account while its kill file
exists kills it again: remove the file first. Exit 2 on a bad config or an unknown strategy.
"""

from __future__ import annotations

import argparse

from bot.commands.operator_request import add_request_arguments, request_from_cli
from bot.risk.kill_switch import RESUME


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_request_arguments(p, "resume")


def run(args: argparse.Namespace) -> int:
    return request_from_cli(RESUME, args)
