"""``ibbot data``: market data tools. ``download`` fetches bars from IB into the Parquet store
(bot/commands/data_download.py), ``import`` checks a CSV (or Parquet) file of one symbol's
bars and merges it into the Parquet store (bot/research/data/store.py), ``list`` shows the store,
and ``synth`` writes synthetic sample bars. Exit 2 on bad input (the message names the file, line
and column), nothing written."""

from __future__ import annotations

import argparse
import shlex
import sys
from datetime import date
from pathlib import Path

from bot.research.data.store import DEFAULT_STORE, frame_of, list_store, merge_bars, store_path
from bot.research.data.synth import write_sample
from bot.sim.instruments import DEFAULT_INSTRUMENTS_FILE, InstrumentError, Instruments


def add_arguments(p: argparse.ArgumentParser) -> None:
    from bot.commands import data_download

    sub = p.add_subparsers(dest="data_command", metavar="ACTION", required=True)
    d = sub.add_parser(
        "download",
        help="fetch bars from IB (or the simulated gateway) into the Parquet store",
        description="Fetch historical bars into <store>/<SYMBOL>/<bar>.parquet through IB's "
        "pacing rules, only the ranges the store lacks (before its first bar, after its "
        "last), each request stored as it arrives: an interrupted download resumes where "
        "it stopped. A backtest reads the store with gateway.data: <store>.",
    )
    data_download.add_arguments(d)
    i = sub.add_parser(
        "import",
        help="check a bar file of one symbol and merge it into the Parquet store",
        description="Read FILE (CSV, CSV.GZ or Parquet: time, open, high, low, close, volume "
        "in any case; the bar size is inferred), check every row and merge the bars into "
        "<store>/<SYMBOL>/<bar>.parquet: bars already stored at the same times are replaced, "
        "none duplicated. A backtest reads the store with gateway.data: <store>.",
    )
    i.add_argument("file", type=Path, metavar="FILE")
    i.add_argument("--symbol", required=True, help="the instrument (config/instruments.yaml)")
    i.add_argument("--tz", help="time zone of times written without an offset (default UTC), "
                   "e.g. America/New_York")  # fmt: skip
    i.add_argument("--store", type=Path, default=DEFAULT_STORE, help="default data/store")
    i.add_argument("--instruments", type=Path, default=DEFAULT_INSTRUMENTS_FILE,
                   help="instruments YAML (default: config/instruments.yaml)")  # fmt: skip
    ls = sub.add_parser("list", help="the store's files: symbol, bar size, first, last, rows")
    ls.add_argument("--store", type=Path, default=DEFAULT_STORE, help="default data/store")
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
    if args.data_command == "download":
        from bot.commands import data_download

        return data_download.run(args)
    if args.data_command == "synth":
        return _synth(args)
    if args.data_command == "import":
        return _import(args)
    if args.data_command == "list":
        return _list(args)
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


def _import(args: argparse.Namespace) -> int:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    from bot.sim.datafile import DataFileError, read_bars

    try:
        if args.tz is not None:
            ZoneInfo(args.tz)
        inst = Instruments.load(args.instruments).by_symbol(args.symbol)
        if not args.file.is_file():
            raise DataFileError(f"{args.file}: no such file")
        bars = read_bars(args.file, inst, args.tz)
    except ZoneInfoNotFoundError:  # a KeyError: before the unknown symbol's
        print(f"ibbot data import: --tz {args.tz!r}: unknown time zone", file=sys.stderr)
        return 2
    except ValueError as e:  # DataFileError, InstrumentError
        print(f"ibbot data import: {e}", file=sys.stderr)
        return 2
    except KeyError as e:
        print(f"ibbot data import: {e.args[0]} (see {args.instruments})", file=sys.stderr)
        return 2
    path = store_path(args.store, inst.local_symbol, bars.bar_seconds)
    try:
        merged = merge_bars(path, frame_of(bars))
    except OSError as e:
        print(f"ibbot data import: cannot write {path}: {e}", file=sys.stderr)
        return 1
    first, last = _iso(int(bars.time[0])), _iso(int(bars.time[-1]))
    print(f"{args.file}: {len(bars.time)} bars ({first} to {last} UTC) -> {path}: "
          f"{merged.added} new, {merged.replaced} replaced, {merged.rows} in all")  # fmt: skip
    return 0


def _iso(epoch: int) -> str:
    from datetime import UTC, datetime

    return datetime.fromtimestamp(epoch, UTC).strftime("%Y-%m-%d %H:%M")


def _list(args: argparse.Namespace) -> int:
    from bot.runtime.text_table import render
    from bot.sim.datafile import bar_name

    if not args.store.is_dir():
        print(f"ibbot data list: {args.store}: no such store (ibbot data import fills it)",
              file=sys.stderr)  # fmt: skip
        return 2
    files = list_store(args.store)
    if not files:
        print(f"{args.store}: empty")
        return 0
    rows = [
        [f.symbol, bar_name(f.bar_seconds), _stamp(f.first), _stamp(f.last), f.rows]
        for f in files
    ]
    print(render(["symbol", "bar", "first (UTC)", "last (UTC)", "rows"], rows))
    return 0


def _stamp(t: object) -> str:
    return "-" if t is None else f"{t:%Y-%m-%d %H:%M}"
