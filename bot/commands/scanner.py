"""``ibbot scanner params|run``: IB's market scanners from the command line.

``params`` asks reqScannerParameters and prints the scan codes (with their display names),
instruments and locations the scanner offers (``--xml FILE`` keeps the raw document);
``run`` runs one scan (reqScannerDataAsync) and prints its rows. Both talk to a real IB or the
embedded simulated gateway (bot/tools/session.py). Exit 0 on success, 2 on bad input (a bad
config or flag, rows out of range, a scan IB refuses), 1 when IB cannot be reached or does
not answer. Nothing but these read-only requests is sent.
https://interactivebrokers.github.io/tws-api/market_scanners.html
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config.errors import ConfigError
from bot.runtime.text_table import render
from bot.tools.scanner_params import ScannerParameters, ScannerXmlError, parse_scanner_parameters
from bot.tools.session import (
    EXIT_BAD_INPUT,
    EXIT_RUNTIME,
    Target,
    ToolError,
    add_target_arguments,
    answer,
    run_tool,
    setup_logging,
    target_from_args,
)

if TYPE_CHECKING:  # imported once the config has chosen the library (target_from_args)
    from bot.client.ib import IB, ScanData, ScannerSubscription

MAX_ROWS = 50  # IB's cap on a scan's numberOfRows
SCAN_FIELDS = ("distance", "benchmark", "projection", "legsStr")  # what IB may add to a row


def add_arguments(p: argparse.ArgumentParser) -> None:
    sub = p.add_subparsers(dest="scanner_command", metavar="ACTION", required=True)
    params = sub.add_parser(
        "params",
        help="list the scan codes, instruments and locations (reqScannerParameters)",
        description="Print the scan codes (with display names), instruments and locations "
        "IB's scanner offers, parsed from its ScanParameterResponse XML.",
    )
    add_target_arguments(params, config_positional=True)
    params.add_argument("--xml", type=Path, metavar="FILE", help="also save the raw XML there")
    params.add_argument(
        "--instrument", metavar="TYPE", help="only what applies to this instrument type, e.g. STK"
    )
    run = sub.add_parser(
        "run",
        help="run one scan and print its rows (reqScannerSubscription)",
        description="Run one market scan and print each row: rank, symbol, conId, exchange "
        "and what IB adds (distance, benchmark, projection, legs) when it does.",
    )
    add_target_arguments(run, config_positional=True)
    run.add_argument(
        "--code",
        required=True,
        metavar="SCAN_CODE",
        help="scan code, e.g. HIGH_OPEN_GAP (see: ibbot scanner params)",
    )
    run.add_argument(
        "--location",
        default="STK.US.MAJOR",
        metavar="CODE",
        help="location code (default STK.US.MAJOR)",
    )
    run.add_argument(
        "--instrument", default="STK", metavar="TYPE", help="instrument type (default STK)"
    )
    run.add_argument(
        "--rows", type=int, default=10, metavar="N", help=f"rows, 1..{MAX_ROWS} (default 10)"
    )
    run.add_argument("--above-price", type=float, metavar="X", help="last price at least X")
    run.add_argument("--below-price", type=float, metavar="X", help="last price at most X")
    run.add_argument("--above-volume", type=int, metavar="N", help="volume today at least N")


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    try:
        target = target_from_args(args)
        if args.scanner_command == "run":
            subscription = scanner_subscription(args)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return EXIT_BAD_INPUT
    except ToolError as e:
        print(f"ibbot scanner {args.scanner_command}: {e}", file=sys.stderr)
        return e.code
    name = f"scanner {args.scanner_command}"
    if args.scanner_command == "params":
        return run_tool(name, target, lambda ib, t: _params(ib, t, args.xml, args.instrument))
    return run_tool(name, target, lambda ib, t: _run(ib, t, subscription))


def scanner_subscription(args: argparse.Namespace) -> ScannerSubscription:
    """The subscription the flags ask for; ToolError (exit 2) for values IB would refuse."""
    problems = []
    if not 1 <= args.rows <= MAX_ROWS:
        problems.append(f"--rows {args.rows} is out of range: IB returns 1 to {MAX_ROWS} rows")
    for flag, value in (
        ("--above-price", args.above_price),
        ("--below-price", args.below_price),
        ("--above-volume", args.above_volume),
    ):
        if value is not None and value < 0:
            problems.append(f"{flag} must not be negative, got {value:g}")
    if None not in (args.above_price, args.below_price) and args.above_price > args.below_price:
        problems.append(
            f"--above-price {args.above_price:g} is above --below-price "
            f"{args.below_price:g}: no price can match both"
        )
    if problems:
        raise ToolError(EXIT_BAD_INPUT, "; ".join(problems))
    from bot.client.ib import ScannerSubscription

    sub = ScannerSubscription(
        numberOfRows=args.rows,
        instrument=args.instrument.upper(),
        locationCode=args.location.upper(),
        scanCode=args.code.upper(),
    )
    if args.above_price is not None:
        sub.abovePrice = args.above_price
    if args.below_price is not None:
        sub.belowPrice = args.below_price
    if args.above_volume is not None:
        sub.aboveVolume = args.above_volume
    return sub


async def _params(ib: IB, target: Target, xml_path: Path | None, instrument: str | None) -> int:
    xml = await answer(ib.reqScannerParametersAsync(), "reqScannerParameters", target.timeout)
    if xml_path is not None:
        try:
            xml_path.write_text(xml, encoding="utf-8")
        except OSError as e:
            raise ToolError(EXIT_RUNTIME, f"cannot write {xml_path}: {e}") from None
    try:
        params = parse_scanner_parameters(xml)
    except ScannerXmlError as e:
        raise ToolError(EXIT_RUNTIME, f"IB's scanner parameters do not parse: {e}") from None
    if instrument:
        params = params.for_instrument(instrument.upper())
    print(render_parameters(params))
    if xml_path is not None:
        print(f"\nwrote the raw XML ({len(xml):,} characters) to {xml_path}")
    return 0


def render_parameters(params: ScannerParameters) -> str:
    scans = render(
        ["scan code", "display name", "instruments"],
        [(t.code, t.name, ",".join(t.instruments)) for t in params.scan_types],
    )
    instruments = render(
        ["instrument", "name", "filters"],
        [(i.type, i.name, ",".join(i.filters)) for i in params.instruments],
    )
    locations = render(
        ["location code", "name", "instruments"],
        [
            ("  " * loc.depth + loc.code, loc.name, ",".join(loc.instruments))
            for loc in params.locations
        ],
    )
    return "\n\n".join(
        [
            f"Scan codes ({len(params.scan_types)})\n{scans}",
            f"Instruments ({len(params.instruments)})\n{instruments}",
            f"Locations ({len(params.locations)}; nested ones indented)\n{locations}",
        ]
    )


async def _run(ib: IB, target: Target, sub: ScannerSubscription) -> int:
    from bot.client.ib import RequestError

    what = f"scan {sub.scanCode} {sub.instrument} {sub.locationCode}"
    try:
        rows = await answer(ib.reqScannerDataAsync(sub), what, target.timeout)
    except RequestError as e:
        raise ToolError(
            EXIT_BAD_INPUT,
            f"IB refused the {what}: error {e.code}: {e.message}"
            " (ibbot scanner params lists what it offers)",
        ) from None
    print(f"{what}: {len(rows)} row{'s' if len(rows) != 1 else ''}")
    if rows:
        print(render_rows(rows))
    return 0


def render_rows(rows: list[ScanData]) -> str:
    """rank, symbol, conId, exchange, currency, then each of IB's extra fields some row has."""
    extra = [f for f in SCAN_FIELDS if any(getattr(r, f) for r in rows)]
    table = []
    for r in rows:
        c = r.contractDetails.contract
        assert c is not None  # ib_insync builds every scan row's contract
        exchange = c.primaryExchange or c.exchange
        table.append(
            [r.rank, c.symbol, c.conId, exchange, c.currency, *(getattr(r, f) for f in extra)]
        )
    return render(["rank", "symbol", "conId", "exchange", "currency", *extra], table)
