"""``ibbot optimize CONFIG --grid 'fast=5..50:5,slow=20..200:10' [--strategy ID] [--random N]
[--seed S] [--metric sharpe] [--walk-forward 12m/3m] [--engine local|ray] [--address ADDR]
[--workers N] [--from D --to D] [--out DIR]``.

Backtests the config once per parameter set of one strategy (bot/research/optimize/), in-process, on
all cores or on Ray, and writes results.csv, best.yaml and report.html (plus walk_forward.csv
and oos_equity.csv for a walk-forward) under --out (default ``runs/optimize-<config>-<id>``).

Exit 0 when every task ran, 2 on bad input (config, grid, metric, engine, dates), 1 when
stopped (Ctrl-C: the finished rows are written) or a backtest failed.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from bot.backtest.kpis import STYLES, Settings
from bot.commands.backtest import parse_day, parse_rate
from bot.config.errors import ConfigError
from bot.config.load import load_config


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("config", type=Path, metavar="CONFIG", help="a YAML config with a gateway:")
    p.add_argument("--grid", required=True, metavar="SPEC",
                   help="parameters to vary: name=a..b:step ranges and name=v1|v2 lists, "
                   "comma-separated, e.g. 'fast=5..50:5,slow=20..200:10,"
                   "mode=long_flat|long_short'")  # fmt: skip
    p.add_argument("--strategy", metavar="ID",
                   help="the strategy whose params vary (default: the config's only "
                   "enabled one)")  # fmt: skip
    p.add_argument("--random", type=int, metavar="N",
                   help="run N random combinations of the grid instead of all of them")  # fmt: skip
    p.add_argument("--seed", type=int, default=0, help="seed of --random (default 0)")
    p.add_argument("--metric", default="sharpe",
                   help="the total's KPI that ranks the sets (default sharpe; max_drawdown, "
                   "volatility ... rank lowest first)")  # fmt: skip
    p.add_argument("--walk-forward", metavar="IS/OOS",
                   help="optimize on rolling in-sample windows and test each best on the next "
                   "out-of-sample one, e.g. 12m/3m or 10d/5d (trading days)")  # fmt: skip
    p.add_argument("--engine", choices=("local", "ray"), default="local",
                   help="local (default): a process pool; ray: Ray tasks "
                   "(pip install 'ibbot[ray]')")  # fmt: skip
    p.add_argument("--address", metavar="ADDR",
                   help="a Ray cluster, e.g. ray://HOST:10001 (default: a local Ray "
                   "instance)")  # fmt: skip
    p.add_argument("--workers", type=int, default=os.cpu_count() or 1, metavar="N",
                   help="processes (local) or CPUs of the local Ray (default: all "
                   "cores)")  # fmt: skip
    p.add_argument("--from", dest="first", type=parse_day, metavar="YYYY-MM-DD",
                   help="first trading day (default: the data's first)")  # fmt: skip
    p.add_argument("--to", dest="last", type=parse_day, metavar="YYYY-MM-DD",
                   help="last trading day (default: the data's last)")  # fmt: skip
    p.add_argument("--out", type=Path, metavar="DIR",
                   help="output folder (default runs/optimize-<config>-<strategy id>)")  # fmt: skip
    p.add_argument("--kpi-style", choices=STYLES, default="standard",
                   help="KPI formulas: standard or course ((CAGR - rf) / vol)")  # fmt: skip
    p.add_argument("--rf", type=parse_rate, default=0.0, metavar="RATE",
                   help="annual risk-free rate, e.g. 0.04 (default 0)")  # fmt: skip
    p.add_argument("--log-level", default="ERROR", metavar="LEVEL",
                   help="the backtests' log level (default ERROR)")  # fmt: skip


def run(args: argparse.Namespace) -> int:
    from bot.research.optimize.flow import InputError, execute

    try:
        return execute(args, load_config(args.config), Settings(args.kpi_style, args.rf))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    except InputError as exc:
        print(f"ibbot optimize: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:  # while loading or starting Ray: the sweep's own stop is cleaner
        print("ibbot optimize: interrupted (Ctrl-C) before the sweep ran", file=sys.stderr)
        return 1
