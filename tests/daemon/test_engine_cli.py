"""``ibbot run`` arguments."""

from __future__ import annotations

import argparse

import pytest

from bot.cli import build_parser
from bot.commands.run import parse_duration


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("2h", 7200), ("90m", 5400), ("1h30m", 5400), ("45s", 45), ("0.5h", 1800), ("120", 120)],
)
def test_durations(text: str, seconds: float) -> None:
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "2 days", "h", "-5", "0", "1h 30x"])
def test_bad_durations(text: str) -> None:
    with pytest.raises(argparse.ArgumentTypeError):
        parse_duration(text)


def test_run_arguments() -> None:
    argv = ["run", "config/demo.yaml", "--dry-run", "--live", "--duration", "1h30m"]
    args = build_parser(argv).parse_args(argv)
    assert (args.dry_run, args.live, args.duration) == (True, True, 5400)
    assert str(args.config) == "config/demo.yaml"
    assert args.reset_positions is False
    argv = ["run", "config/paper.yaml", "--reset-positions"]
    assert build_parser(argv).parse_args(argv).reset_positions is True
