"""``ibbot``: one CLI, one subcommand per job. Each command lives in ``bot/commands/<name>.py``
and exposes ``add_arguments(parser)`` and ``run(args) -> exit code``; its one-line help is in
``COMMANDS`` below. Modules are imported only when their command runs, so ``ibbot --help``
stays instant."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

COMMANDS: dict[str, str] = {
    "run": "run the trading daemon on a YAML config",
    "backtest": "replay a config's strategies over a date range of the data and report KPIs",
    "report": "write report.html and PNG charts for a finished backtest",
    "optimize": "sweep a strategy's parameters over backtests (grid, random, walk-forward)",
    "gateway": "serve the simulated IB Gateway (TWS wire protocol) on loopback",
    "kill": "kill switch: cancel, flatten and halt the account or one strategy (until resume)",
    "resume": "lift the kill switch (and the day's limits) of the account or one strategy",
    "check": "validate a config file and print it resolved",
    "schema": "print the config JSON schema (for editor completion)",
    "data": "market data: download from IB or import CSVs into the Parquet store, list it, synth",
    "strategies": "list the registered strategies and their parameters",
    "scanner": "IB market scanners: list the scan codes (params), run one scan (run)",
    "fundamentals": "a company's financial statements or snapshot (reqFundamentalData)",
    "status": "the daemon's positions, orders, fills, P&L, risk and feeds (or the journal's)",
    "journal": "a day's orders, fills and P&L from the journal",
    "control": "send a command to the running daemon: stop-entries, resume-entries, flatten, ...",
}


def build_parser(argv: Sequence[str]) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ibbot",
        description="An asyncio trading bot for Interactive Brokers (ib_insync or ib_async), "
        "with a "
        "simulated IB Gateway for demos, tests and backtests.",
        epilog="Start with: ibbot run config/demo.yaml   (no IB account needed). "
        "Each command has its own --help.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    wanted = next((a for a in argv if not a.startswith("-")), None)
    for name, help_text in COMMANDS.items():
        p = sub.add_parser(name, help=help_text, description=help_text)
        if name == wanted:  # only the chosen command's module is imported
            module = importlib.import_module(f"bot.commands.{name}")
            module.add_arguments(p)
            p.set_defaults(_module=module)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args_list = list(sys.argv[1:] if argv is None else argv)
    args = build_parser(args_list).parse_args(args_list)
    code: int = args._module.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
