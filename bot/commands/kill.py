"""``ibbot kill CONFIG [--strategy ID] [--reason TEXT] [--dry-run]``: the operator's kill switch.

A running daemon with a control channel (``control:`` and a fixed ``metrics.port``, the token
in its environment variable) takes it through the channel at once; otherwise the request is
written into the config's journal (bot/risk/kill_switch.py) and a running daemon acts within a
second, a stopped one at its next start. Either way: cancel the scope's working orders,
flatten, HALTED, across restarts until ``ibbot resume``. Exit 2 on a bad config or an unknown
strategy.
"""

from __future__ import annotations

import argparse

from bot.commands.operator_request import add_request_arguments, request_from_cli
from bot.risk.kill_switch import KILL


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_request_arguments(p, "kill")


def run(args: argparse.Namespace) -> int:
    return request_from_cli(KILL, args)
