"""``ibbot backtest CONFIG --from YYYY-MM-DD --to YYYY-MM-DD [--cash N] [--out DIR]``.

Replays the config's strategies over those trading days of its ``gateway:`` data with the very
daemon of ``ibbot run`` (bot/backtest/runner.py), then prints the KPIs and writes equity.csv,
trades.csv, kpis.json and the run's own journal.sqlite under --out (default
``runs/backtest-<config stem>-<from>-<to>/``).

Exit 0 when the replay ran to its end, 2 on bad input (bad config, no ``gateway:`` block, bad
dates, a range outside the data), 1 on a runtime failure.
"""

from __future__ import annotations

import argparse
import math
import sys
from datetime import date
from pathlib import Path

from bot.backtest.kpis import STYLES, Settings
from bot.client.library import LibraryError, select
from bot.config.errors import ConfigError
from bot.config.load import load_config


def parse_day(text: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"bad date {text!r}: use YYYY-MM-DD") from None


def parse_rate(text: str) -> float:
    try:
        rate = float(text)
    except ValueError:
        rate = math.nan
    if not -1 < rate < 1:
        raise argparse.ArgumentTypeError(f"bad rate {text!r}: an annual rate, e.g. 0.04 for 4%")
    return rate


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=Path, metavar="CONFIG", help="a YAML config with a gateway:")
    p.add_argument("--from", dest="first", type=parse_day, required=True, metavar="YYYY-MM-DD",
                   help="first trading day (replayed from its regular open)")  # fmt: skip
    p.add_argument("--to", dest="last", type=parse_day, required=True, metavar="YYYY-MM-DD",
                   help="last trading day (replayed to its regular close)")  # fmt: skip
    p.add_argument("--cash", type=float, metavar="N",
                   help="starting cash in USD (default: the config's gateway.cash)")  # fmt: skip
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="output folder (default runs/backtest-<config>-<from>-<to>)")  # fmt: skip
    p.add_argument("--engine", choices=("inprocess", "gateway"), default="inprocess",
                   help="inprocess (default): the daemon's parts stepped through the simulated "
                   "world; gateway: the whole daemon through the embedded gateway's wire "
                   "protocol (slower; a fidelity check)")  # fmt: skip
    p.add_argument("--report", action="store_true",
                   help="also write report.html and PNG charts (as ibbot report)")  # fmt: skip
    p.add_argument("--kpi-style", choices=STYLES, default="standard",
                   help="KPI formulas: standard or course ((CAGR - rf) / vol)")  # fmt: skip
    p.add_argument("--rf", type=parse_rate, default=0.0, metavar="RATE",
                   help="annual risk-free rate, e.g. 0.04 (default 0)")  # fmt: skip
    p.add_argument("--log-level", default="WARNING", metavar="LEVEL",
                   help="the daemon's log level during the replay (default WARNING)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    try:
        cfg = load_config(args.config)
        select(cfg.ib.library)  # before the runner's modules import the client library
    except (ConfigError, LibraryError) as exc:
        print(exc, file=sys.stderr)
        return 2
    from bot.backtest.runner import BacktestError, default_out, plan, run_backtest
    from bot.sim.datafile import DataFileError

    out = args.out or default_out(args.config, args.first, args.last)
    try:
        p = plan(cfg, args.first, args.last, out=out, cash=args.cash)
    except (BacktestError, DataFileError) as exc:
        print(f"ibbot backtest: {exc}", file=sys.stderr)
        return 2
    from bot.backtest.report import render_table
    from bot.live.replay import END_OF_DATA
    from bot.runtime.logs import setup_logging

    setup_logging(args.log_level.upper(), cfg.logging.format)
    print(
        f"backtest {args.config}: {p.days[0]} to {p.days[-1]} ({len(p.days)} trading days), "
        f"{p.start:%Y-%m-%d %H:%M} to {p.end:%Y-%m-%d %H:%M} UTC, cash {p.cash:,.0f}",
        flush=True,
    )
    settings = Settings(args.kpi_style, args.rf)
    result = run_backtest(
        p, config_name=str(args.config), engine=args.engine, kpi_settings=settings
    )
    if result.code != 0:
        print(f"ibbot backtest: the replay failed ({result.stop_reason}); see the log "
              f"and {p.journal_path}", file=sys.stderr)  # fmt: skip
        return result.code
    print()
    print(render_table(result.figures))
    if result.open_positions:
        print("\nopen at the last close (marked to it):")
        for row in result.open_positions:
            print(f"  {row['strategy']} {row['symbol']}: {row['quantity']:+g} "
                  f"@ {row['avg_price']:.2f}, close {row['close']}, "
                  f"open P&L {row['open_pnl']:,.2f}")  # fmt: skip
    print(f"\nwrote {out}/equity.csv, trades.csv, kpis.json; journal {p.journal_path}")
    print(f"replay wall time {result.wall_seconds:.1f} s")
    if args.report and (failed := _report(out)):
        return failed
    if result.stop_reason != END_OF_DATA:
        print(f"ibbot backtest: INTERRUPTED ({result.stop_reason}): the figures cover only the "
              "part of the range replayed before the stop", file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _report(out: Path) -> int:
    from bot.backtest.html_report import report_command

    return report_command(out)
