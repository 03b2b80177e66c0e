"""``ibbot data``: market data tools. ``ibbot data synth`` writes synthetic sample bars."""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import date
from pathlib import Path

from bot.data.synth import write_sample
from bot.sim.instruments import DEFAULT_INSTRUMENTS_FILE, InstrumentError, Instruments

HELP = "sample data tools (synth)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    s = sub.add_parser(
        "synth",
        help="write seeded synthetic bars (<SYMBOL>.csv.gz per symbol) and a README",
        description="Write realistic synthetic bars (trends, ranges, gaps, U-shaped volume) "
        "from a seed: the same arguments give byte-identical files.",
    )
    s.add_argument("--out", type=Path, required=True, help="output directory")
    s.add_argument(
        "--symbols",
        nargs="+",
        default=None,
        help="symbols or local symbols, space or comma separated (default: all instruments)",
    )
    s.add_argument("--start", type=date.fromisoformat, default=date(2026, 10, 1), help="YYYY-MM-DD")
    s.add_argument("--days", type=int, default=22, help="trading days (default 22)")
    s.add_argument("--bar-size", type=int, default=60, help="bar size in seconds (default 60)")
    s.add_argument("--seed", type=int, default=1, help="random seed (default 1)")
    s.add_argument(
        "--instruments",
        type=Path,
        default=DEFAULT_INSTRUMENTS_FILE,
        help="instruments YAML (default: config/instruments.yaml)",
    )


def run(args: argparse.Namespace) -> int:
    if args.data_command == "synth":
        return _synth(args)
    print(f"ibbot data: unknown action {args.data_command!r}", file=sys.stderr)
    return 2


def _synth(args: argparse.Namespace) -> int:
    try:
        instruments = Instruments.load(args.instruments)
        if args.symbols:
            symbols = [s for item in args.symbols for s in item.split(",") if s]
        else:
            symbols = [i.local_symbol for i in instruments]
        for s in symbols:
            instruments.by_symbol(s)
    except InstrumentError as e:
        print(f"ibbot data synth: {e}", file=sys.stderr)
        return 2
    except KeyError as e:
        print(f"ibbot data synth: {e.args[0]} (see {args.instruments})", file=sys.stderr)
        return 2
    command = "ibbot data synth " + " ".join(
        shlex.quote(a)
        for a in [
            "--out", str(args.out), *(["--symbols", ",".join(symbols)] if args.symbols else []),
            "--start", str(args.start),
            "--days", str(args.days), "--bar-size", str(args.bar_size), "--seed", str(args.seed),
        ]
    )  # fmt: skip
    try:
        paths = write_sample(
            args.out, symbols, args.start, args.days, args.bar_size, args.seed, instruments, command
        )
    except ValueError as e:
        print(f"ibbot data synth: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"ibbot data synth: cannot write {args.out}: {e}", file=sys.stderr)
        return 1
    size = sum(p.stat().st_size for p in paths)
    print(
        f"wrote {len(paths)} files ({size / 1e6:.1f} MB) to {args.out}"
        f" (synthetic prices, seed {args.seed})"
    )
    return 0
