"""One IB connection for a one-shot command (``ibbot scanner``, ``ibbot fundamentals``).

The target is a real TWS / IB Gateway (host and port from a run config's ``ib:`` block, or
``--host``/``--port``) or the embedded simulated gateway (``--embedded``, or a config with a
``gateway:`` block), started in-process the daemon's way (bot/gateway/embedded.py). The
connection is read-only and uses its own client id, so a running daemon is not disturbed.
Request errors come back as ib_insync ``RequestError`` (code and IB's text) for the command
to word; failures end the command through :class:`ToolError` and its exit code.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import sys
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, TypeVar

from bot.client.library import LIBRARIES, LibraryError, select
from bot.config.gateway import GatewaySettings
from bot.config.ib import IBConfig
from bot.config.load import load_config
from bot.runtime.deadlines import within

if TYPE_CHECKING:  # the library is chosen from the config first (target_from_args)
    from bot.client.ib import IB, Contract

if TYPE_CHECKING:
    from bot.gateway.server import Gateway

EXIT_RUNTIME, EXIT_BAD_INPUT = 1, 2
_PAIR = re.compile(r"([A-Za-z]{3})\.([A-Za-z]{3})")
DEFAULT_CLIENT_ID = 900  # not the daemon's (1 by default): both can be connected at once
T = TypeVar("T")


class ToolError(Exception):
    """Ends the command: ``code`` is its exit code, the text what the user reads."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code


@dataclass(frozen=True, slots=True)
class Target:
    host: str
    port: int
    client_id: int
    timeout: float  # seconds, for the connection and for each request
    gateway: GatewaySettings | None  # set: start the embedded gateway and use it
    history_only: bool = False  # that gateway's clock stands at the end of its data
    pacing_scale: float = 1.0  # that gateway's pacing rules run this much faster (benches)


def add_target_arguments(p: argparse.ArgumentParser, *, config_positional: bool) -> None:
    config_help = "a run config: its ib: block (host, port) or its gateway: block (embedded)"
    if config_positional:
        p.add_argument("config", nargs="?", type=Path, metavar="CONFIG", help=config_help)
    else:
        p.add_argument("--config", type=Path, metavar="CONFIG", help=config_help)
    p.add_argument("--host", help="TWS / IB Gateway host (default: the config's, or 127.0.0.1)")
    p.add_argument(
        "--port", type=int, help="TWS / IB Gateway API port (default: the config's, or 4002)"
    )
    p.add_argument(
        "--client-id",
        type=int,
        default=DEFAULT_CLIENT_ID,
        metavar="N",
        help=f"API client id (default {DEFAULT_CLIENT_ID})",
    )
    p.add_argument(
        "--embedded",
        action="store_true",
        help="start the simulated gateway in-process (the config's gateway: block, "
        "else the shipped sample) instead of connecting to IB",
    )
    p.add_argument(
        "--timeout",
        type=float,
        default=30.0,
        metavar="S",
        help="seconds to wait to connect and for each answer (default 30)",
    )
    p.add_argument(
        "--log-level",
        default="WARNING",
        metavar="LEVEL",
        help="log level (default WARNING; DEBUG shows ib_insync's own lines)",
    )


def target_from_args(args: argparse.Namespace) -> Target:
    """Raises ConfigError (a bad config) or ToolError (contradicting flags)."""
    cfg = load_config(args.config) if args.config is not None else None
    ib = cfg.ib if cfg is not None else IBConfig()
    try:
        select(ib.library)
    except LibraryError as e:
        raise ToolError(EXIT_BAD_INPUT, str(e)) from None
    gateway = cfg.gateway if cfg is not None else None
    if args.embedded and gateway is None:
        gateway = _sample_gateway()
    if gateway is not None and (args.host is not None or args.port is not None):
        raise ToolError(
            EXIT_BAD_INPUT,
            "--host/--port name a real IB; they do not go with the "
            "embedded gateway (--embedded, or the config's gateway: block)",
        )
    if args.timeout <= 0:
        raise ToolError(EXIT_BAD_INPUT, f"--timeout must be positive, got {args.timeout}")
    return Target(
        host=args.host or ib.host,
        port=args.port or ib.port,
        client_id=args.client_id,
        timeout=args.timeout,
        gateway=gateway,
    )


def _sample_gateway() -> GatewaySettings:
    from bot.sim.shipped import DEFAULT_INSTRUMENTS_FILE, SAMPLE_DATA_DIR

    return GatewaySettings(data=SAMPLE_DATA_DIR, instruments=DEFAULT_INSTRUMENTS_FILE)


def setup_logging(level: str) -> None:
    logging.basicConfig(level=level.upper(), format="%(levelname)s %(name)s: %(message)s")
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # The command words IB's errors itself; ib_insync's copy of each would repeat them.
        for library in LIBRARIES:
            logging.getLogger(library).setLevel(logging.CRITICAL)


def run_tool(name: str, target: Target, work: Callable[[IB, Target], Awaitable[int]]) -> int:
    """Connect, run ``work``, disconnect (and stop the embedded gateway); the exit code."""
    try:
        return asyncio.run(_session(target, work))
    except ToolError as e:
        print(f"ibbot {name}: {e}", file=sys.stderr)
        return e.code
    except KeyboardInterrupt:
        return EXIT_RUNTIME


async def _session(target: Target, work: Callable[[IB, Target], Awaitable[int]]) -> int:
    gateway = None
    if target.gateway is not None:
        gateway = await _start_gateway(target)
    host, port = (gateway.config.host, gateway.port) if gateway else (target.host, target.port)
    from bot.client.ib import new_ib

    ib = new_ib()
    ib.RaiseRequestErrors = True  # an IB error fails the request with its code and text
    try:
        try:
            await ib.connectAsync(
                host, port, clientId=target.client_id, timeout=target.timeout, readonly=True
            )
        except (ConnectionError, OSError, TimeoutError) as e:
            raise ToolError(
                EXIT_RUNTIME,
                f"cannot reach IB at {host}:{port}: {e or type(e).__name__}. Is TWS or IB "
                "Gateway running, logged in, with the API enabled on that port? No IB at hand: "
                "add --embedded for the simulated gateway.",
            ) from None
        return await work(ib, target)
    finally:
        ib.disconnect()
        if gateway is not None:
            await gateway.stop()


async def _start_gateway(target: Target) -> Gateway:
    from bot.gateway.embedded import start_embedded_gateway
    from bot.gateway.pacing_rules import PacingLimits
    from bot.sim.datafile import DataFileError
    from bot.sim.instruments import InstrumentError

    try:
        assert target.gateway is not None
        pacing = PacingLimits().scaled(target.pacing_scale)
        return await start_embedded_gateway(
            target.gateway, history_only=target.history_only, pacing=pacing
        )
    except (DataFileError, InstrumentError) as e:
        raise ToolError(EXIT_BAD_INPUT, f"cannot start the embedded gateway: {e}") from None


async def answer(request: Awaitable[T], what: str, timeout: float) -> T:
    """The request's answer, or ToolError when none comes within ``timeout`` seconds."""
    try:
        return await within(request, timeout)
    except TimeoutError:
        raise ToolError(EXIT_RUNTIME, f"no answer to {what} within {timeout:g} s") from None


def contract_for(
    symbol: str, exchange: str = "SMART", currency: str = "USD", primary_exchange: str = ""
) -> Contract:
    """The contract a user means by ``symbol``: a currency pair such as EUR.USD, else a stock."""
    from bot.client.ib import Forex, Stock

    pair = _PAIR.fullmatch(symbol)
    if pair:
        return Forex(pair[1].upper() + pair[2].upper())
    return Stock(symbol.upper(), exchange, currency.upper(), primaryExchange=primary_exchange)


async def qualify(ib: IB, contract: Contract, timeout: float) -> Contract:
    """The one contract IB means, or ToolError (exit 2) naming the symbol (``ibbot
    fundamentals``, ``ibbot data download``)."""
    from bot.client.ib import RequestError

    text = f"{contract.symbol}{'.' + contract.currency if contract.secType == 'CASH' else ''}"
    where = f"{contract.secType} {text} on {contract.exchange} in {contract.currency}"
    try:
        details = await answer(
            ib.reqContractDetailsAsync(contract), f"the contract {text}", timeout
        )
    except RequestError as e:
        raise ToolError(
            EXIT_BAD_INPUT, f"IB knows no {where} (error {e.code}: {e.message})"
        ) from None
    if not details:
        raise ToolError(EXIT_BAD_INPUT, f"IB knows no {where}")
    if len(details) > 1:
        places = sorted({d.contract.primaryExchange for d in details if d.contract})
        raise ToolError(
            EXIT_BAD_INPUT,
            f"{text} is ambiguous: add --primary-exchange (one of: {', '.join(places)})",
        )
    found = details[0].contract
    assert found is not None  # ib_insync fills every details' contract
    return found
