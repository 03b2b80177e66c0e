"""``ibbot check CONFIG``: validate a config and print it resolved (defaults filled in).

Exit 0 with the resolved YAML on stdout; exit 2 with every problem on stderr, one per line.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import yaml

from bot.config.bot_config import BotConfig
from bot.config.errors import ConfigError
from bot.config.load import load_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=Path, metavar="CONFIG", help="the YAML config file")


def render(config: BotConfig) -> str:
    """The config as YAML, every default and the resolved universe written out."""
    data = config.model_dump(mode="json", by_alias=True)
    return yaml.safe_dump(data, sort_keys=False, default_flow_style=False, allow_unicode=True)


def run(args: argparse.Namespace) -> int:
    try:
        config = load_config(args.config)
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    print(f"# {args.config}: OK ({summary(config)}); resolved with defaults:")
    sys.stdout.write(render(config))
    return 0


def summary(config: BotConfig) -> str:
    n_strat, n_sym = len(config.strategies), len(config.universe.symbols)
    parts = [f"{n_strat} {'strategy' if n_strat == 1 else 'strategies'}", f"{n_sym} symbols"]
    scans = [s.scanner for s in config.strategies if s.scanner is not None]
    parts += [f"daily scan {sc.scan_code} top {sc.top} at {sc.at}" for sc in scans]
    return ", ".join(parts)
