"""``ibbot gateway``: serve the simulated IB Gateway (TWS API on loopback) until Ctrl-C.

Every option has a default that works with the shipped sample, so plain ``ibbot gateway``
serves data/sample on port 4002 at 60x speed; point ib_insync (or the bot) at 127.0.0.1:4002.
The options are the fields of the config's ``gateway:`` block (bot/config/gateway.py).
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys

from bot.config.flags import add_flags, from_args
from bot.config.gateway import GatewaySettings
from bot.gateway.server import serve
from bot.sim.datafile import DataFileError
from bot.sim.instruments import InstrumentError


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_flags(p, GatewaySettings)
    p.add_argument(
        "--log-level",
        default="INFO",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="default INFO",
    )


def settings_from_args(args: argparse.Namespace) -> GatewaySettings:
    return from_args(GatewaySettings, args)


def run(args: argparse.Namespace) -> int:
    logging.basicConfig(
        level=args.log_level, format="%(asctime)s %(levelname)-7s %(name)s: %(message)s"
    )
    logging.getLogger("ib_insync").setLevel(logging.WARNING)
    try:
        asyncio.run(serve(settings_from_args(args)))
    except (DataFileError, InstrumentError, ValueError) as e:
        print(f"ibbot gateway: {e}", file=sys.stderr)
        return 2
    except OSError as e:
        print(f"ibbot gateway: cannot listen on {args.host}:{args.port}: {e}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        pass
    return 0
