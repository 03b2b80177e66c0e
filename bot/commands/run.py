"""``ibbot run CONFIG [--dry-run] [--live] [--duration 2h] [--reset-positions] [--record DIR]``:
the daemon.

Exit 0 on a clean stop (Ctrl-C, SIGTERM, --duration, end of the embedded gateway's data),
2 on a bad config, a refusal by the paper/live guard, or positions in the journal that the
account at IB does not hold (nothing is sent; ``--reset-positions`` after checking), 1 on a
runtime failure.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from bot.client.library import LibraryError, select
from bot.config.bot_config import BotConfig
from bot.config.errors import ConfigError
from bot.config.load import load_config
from bot.config.record import RecordConfig
from bot.model.intervals import parse_interval


def parse_duration(text: str) -> float:
    """'2h', '90m', '1h30m', '45s', '0.5h' or plain seconds -> seconds."""
    try:
        value = float(text)
    except ValueError:
        seconds = parse_interval(text)
        if seconds is None:
            raise argparse.ArgumentTypeError(
                f"bad duration {text!r}: use e.g. 2h, 90m, 1h30m, 45s"
            ) from None
        value = seconds
    if value <= 0:
        raise argparse.ArgumentTypeError(f"duration must be positive, got {text!r}")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=Path, metavar="CONFIG", help="the YAML config file")
    p.add_argument(
        "--dry-run", action="store_true", help="connect read-only, journal intents, send nothing"
    )
    p.add_argument(
        "--live",
        action="store_true",
        help="allow a non-paper account (the config must also say mode: live)",
    )
    p.add_argument(
        "--duration",
        type=parse_duration,
        metavar="TIME",
        help="stop after this much wall time, e.g. 2h, 30m, 90s",
    )
    p.add_argument(
        "--reset-positions",
        action="store_true",
        help="where the journal's per-strategy positions disagree with the account at IB, "
        "start those strategies flat instead of refusing to trade (journalled)",
    )
    p.add_argument(
        "--record",
        type=Path,
        metavar="DIR",
        help="record the bars and ticks received to Parquet under DIR (as the config's "
        "record: {dir: DIR}); ibbot backtest replays it with gateway: {data: DIR}",
    )


def with_record(cfg: BotConfig, folder: Path) -> BotConfig:
    """``cfg`` recording into ``folder`` (the config's other record: settings kept)."""
    record = cfg.record or RecordConfig(dir=folder)
    return cfg.model_copy(update={"record": record.model_copy(update={"dir": folder})})


def run(args: argparse.Namespace) -> int:
    if args.record is not None and args.record.exists() and not args.record.is_dir():
        print(f"--record {args.record}: a file, not a folder to record into", file=sys.stderr)
        return 2
    try:
        cfg = load_config(args.config)
        if args.record is not None:
            cfg = with_record(cfg, args.record)
        select(cfg.ib.library)  # before the daemon's modules import the client library
    except (ConfigError, LibraryError) as exc:
        print(exc, file=sys.stderr)
        return 2
    from bot.live.daemon import Daemon, RunOptions
    from bot.ops.server import OpsServer
    from bot.runtime.logs import setup_logging

    lc = cfg.logging
    setup_logging(lc.level, lc.format, file=lc.file, max_bytes=lc.max_bytes, backups=lc.backups)
    options = RunOptions(
        dry_run=args.dry_run,
        live=args.live,
        duration=args.duration,
        reset_positions=args.reset_positions,
        freeze_startup=True,
    )
    try:
        return asyncio.run(Daemon(cfg, options, ops=OpsServer).run())
    except KeyboardInterrupt:  # a second Ctrl-C during shutdown
        return 0
