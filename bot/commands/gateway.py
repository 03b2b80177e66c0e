"""``ibbot gateway``: serve the simulated IB Gateway (TWS API on loopback) until Ctrl-C.

Every option has a default that works with the shipped sample, so plain ``ibbot gateway``
serves data/sample on port 4002 at 60x speed; point ib_insync (or the bot) at 127.0.0.1:4002.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
from datetime import UTC, datetime
from pathlib import Path

from bot.gateway.pacing import PacingLimits
from bot.gateway.server import DEFAULT_DATA_DIR, GatewayConfig, serve
from bot.gateway.wire import MAX_SERVER_VERSION, MIN_SERVER_VERSION
from bot.sim.broker import BrokerConfig
from bot.sim.commission import SCHEDULES
from bot.sim.datafile import DataFileError
from bot.sim.instruments import DEFAULT_INSTRUMENTS_FILE, InstrumentError


def _start(text: str) -> datetime:
    """ISO date or datetime; without a zone it is UTC."""
    try:
        t = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO date/time: {text!r}") from None
    return t if t.tzinfo else t.replace(tzinfo=UTC)


def _speed(text: str) -> float | None:
    if text.lower() in ("manual", "none"):
        return None
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("speed must be >= 0 (0 = as fast as clients read)")
    return value


def _slippage(text: str) -> float:
    value = float(text)
    if value < 0:
        raise argparse.ArgumentTypeError("slippage must be >= 0 ticks")
    return value


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default loopback)")
    p.add_argument("--port", type=int, default=4002, help="TCP port (default 4002; 0 = any free)")
    p.add_argument(
        "--data",
        type=Path,
        default=DEFAULT_DATA_DIR,
        help="bars directory "
        "(<SYMBOL>.csv[.gz] or .parquet; default: the shipped synthetic sample)",
    )
    p.add_argument(
        "--instruments",
        type=Path,
        default=DEFAULT_INSTRUMENTS_FILE,
        help="instruments YAML (default: config/instruments.yaml)",
    )
    p.add_argument(
        "--start",
        type=_start,
        default=None,
        help="simulated start, ISO (UTC if no "
        "zone; default: the regular open of the data's 6th trading day)",
    )
    p.add_argument(
        "--speed",
        type=_speed,
        default=60.0,
        help="simulated seconds per wall "
        "second (default 60; 0 = as fast as clients read; 'manual' = frozen clock)",
    )
    p.add_argument("--account", default="DU1234567", help="account id (default DU1234567)")
    p.add_argument("--cash", type=float, default=1_000_000.0, help="starting cash (USD)")
    p.add_argument("--seed", type=int, default=1, help="seed of the derived ticks (default 1)")
    p.add_argument(
        "--server-version",
        type=int,
        default=None,
        metavar="N",
        help=f"pin the TWS API version ({MIN_SERVER_VERSION}..{MAX_SERVER_VERSION}; "
        "default: the highest the client accepts)",
    )
    p.add_argument(
        "--slippage-ticks",
        type=_slippage,
        default=0.0,
        help="ticks a market order fills beyond the quote, against it (default 0)",
    )
    p.add_argument(
        "--commission",
        choices=SCHEDULES,
        default="ib_fixed",
        help="commission schedule: IB fixed, IB tiered (by monthly volume) or none "
        "(default ib_fixed)",
    )
    p.add_argument(
        "--participation",
        type=float,
        default=None,
        help="max share of each tick's size one order may take (default: no cap)",
    )
    p.add_argument(
        "--faults",
        type=Path,
        default=None,
        metavar="FILE",
        help="YAML fault plan: disconnects, restarts, 1100/1101/1102, farm notices, rejects, "
        "delayed acks, stale ids, at simulated times (see bot/gateway/faults.py)",
    )
    p.add_argument(
        "--no-pacing",
        action="store_true",
        help="do not enforce IB's historical data pacing and message rate limits",
    )
    p.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="default INFO",
    )


def config_from_args(args: argparse.Namespace) -> GatewayConfig:
    broker = BrokerConfig.of(args.participation, args.slippage_ticks, args.commission)
    return GatewayConfig(
        host=args.host,
        port=args.port,
        data_dir=args.data,
        instruments_path=args.instruments,
        start=args.start,
        speed=args.speed,
        account=args.account,
        cash=args.cash,
        seed=args.seed,
        server_version=args.server_version,
        broker=broker,
        faults=args.faults,
        pacing=PacingLimits(enabled=not args.no_pacing),
        max_message_rate=0 if args.no_pacing else 50,
    )


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    logging.getLogger("ib_insync").setLevel(logging.WARNING)
    try:
        asyncio.run(serve(config_from_args(args)))
    except (DataFileError, InstrumentError, ValueError) as e:
        print(f"ibbot gateway: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"ibbot gateway: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
