"""``ibbot data download SYMBOLS... --bar B --duration D [--what W] [--store DIR]``: historical
bars from IB (or the embedded simulated gateway) into the Parquet store, only what the store
lacks (bot/research/data/download_plan.py), through the pacing governor
(bot/research/data/download.py).

Before anything is fetched every symbol is qualified and its earliest data asked for; a
symbol IB does not know (or finds ambiguous) is named and the command exits 2 with nothing
written. A progress bar with an ETA from IB's pacing rules shows on a terminal; a summary per
symbol at the end. Ctrl-C stops it (exit 1) with every window that arrived stored: the same
command resumes. Exit 1 also when IB cannot be reached or refuses a request.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from bot.config.errors import ConfigError
from bot.market_data.history_pacing import HistoryGovernor, HistoryLimits
from bot.research.data.download import Downloader, Job, Tally, stored_range
from bot.research.data.download_plan import (
    ADJUSTED_LAST,
    BAR_CHOICES,
    CHUNKS,
    WHAT_TO_SHOW,
    RangeSpec,
    Window,
    ib_bar_size,
    plan_windows,
)
from bot.research.data.download_progress import Progress, duration_text
from bot.research.data.store import DEFAULT_STORE, store_path
from bot.sim.datafile import bar_name
from bot.sim.instruments import DEFAULT_INSTRUMENTS_FILE, Instruments
from bot.tools.session import (
    EXIT_BAD_INPUT,
    EXIT_RUNTIME,
    Target,
    ToolError,
    add_target_arguments,
    answer,
    contract_for,
    qualify,
    run_tool,
    setup_logging,
    target_from_args,
)

if TYPE_CHECKING:
    from bot.client.ib import IB, Contract

NAME = "data download"
# IB counts a request when it arrives: a wider margin than the feed's keeps a long run of
# requests clear of the window's edge (0.25 s in 10 minutes) whatever the network's jitter.
DOWNLOAD_LIMITS = HistoryLimits(margin_s=0.25)


@dataclass(frozen=True, slots=True)
class Request:
    """The command line, checked."""

    symbols: tuple[str, ...]
    bar_seconds: int
    span: RangeSpec
    what: str
    store: Path
    instruments: Instruments | None  # daily bars: their sessions' opens


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("symbols", nargs="+", metavar="SYMBOL", help="e.g. AAPL MSFT EUR.USD")
    p.add_argument("--bar", required=True, choices=BAR_CHOICES, help="bar size")
    p.add_argument("--duration", required=True, metavar="SPAN",
                   help="how far back from now: 1Y, 6M, 2W, 30D")  # fmt: skip
    p.add_argument("--what", default="TRADES", type=str.upper, choices=WHAT_TO_SHOW,
                   help="IB's whatToShow (default TRADES; ADJUSTED_LAST: split- and "
                   "dividend-adjusted, fetched whole and replacing its file)")  # fmt: skip
    p.add_argument("--store", type=Path, default=DEFAULT_STORE, help="default data/store")
    p.add_argument("--instruments", type=Path, default=DEFAULT_INSTRUMENTS_FILE,
                   help="instruments YAML: the sessions daily bars are stored at "
                   "(default config/instruments.yaml)")  # fmt: skip
    p.add_argument("--pacing-scale", type=float, default=1.0, metavar="F",
                   help="embedded gateway only: its pacing rules and the bot's governor run "
                   "on a clock F times as fast (0.01: 60 requests in 6 s; benches)")  # fmt: skip
    add_target_arguments(p, config_positional=False)


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    try:
        request = checked(args)
        target = replace(
            target_from_args(args), history_only=True, pacing_scale=args.pacing_scale
        )
        if target.gateway is None and args.pacing_scale != 1:
            raise ValueError("--pacing-scale changes the simulated gateway's rules: it goes "
                             "with --embedded (IB's own rules cannot be scaled)")  # fmt: skip
    except (ValueError, KeyError) as e:  # ConfigError is a ValueError
        text = e.args[0] if isinstance(e, KeyError) else str(e)
        print(text if isinstance(e, ConfigError) else f"ibbot {NAME}: {text}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except ToolError as e:
        print(f"ibbot {NAME}: {e}", file=sys.stderr)
        return e.code
    return run_tool(NAME, target, lambda ib, t: download(ib, t, request))


def checked(args: argparse.Namespace) -> Request:
    """The command line as a Request, or ValueError naming what is wrong."""
    if not 0 < args.pacing_scale <= 1:
        raise ValueError(f"--pacing-scale {args.pacing_scale:g}: expected 0 < F <= 1")
    bar = ib_bar_size(args.bar)
    span = RangeSpec.parse(args.duration)
    symbols = tuple(dict.fromkeys(s.upper() for item in args.symbols for s in item.split(",") if s))
    if not symbols:
        raise ValueError("no symbol given")
    if args.store.exists() and not args.store.is_dir():
        raise ValueError(f"--store {args.store}: not a directory")
    chunk = CHUNKS[bar]
    if args.what == ADJUSTED_LAST and span.approx() > chunk.ib_max_length:
        raise ValueError(
            f"--what ADJUSTED_LAST takes no end date at IB, so it comes in one request, and "
            f"one request of {args.bar} bars covers at most {chunk.ib_max}: --duration "
            f"{args.duration} is longer (use a larger --bar or a shorter --duration)"
        )
    instruments = None
    if bar >= 86400:
        instruments = Instruments.load(args.instruments)
        for s in symbols:
            try:
                instruments.by_symbol(s)
            except KeyError:
                raise ValueError(
                    f"{s}: daily bars are stored at each session's open, read from "
                    f"{args.instruments}, which has no {s}"
                ) from None
    return Request(symbols, bar, span, args.what, args.store, instruments)


def series_path(store: Path, symbol: str, bar_seconds: int, what: str) -> Path:
    """TRADES in the file backtests read (``<SYMBOL>/<bar>.parquet``); other kinds beside it
    (``15min-midpoint.parquet``), never mixed into it."""
    path = store_path(store, symbol, bar_seconds)
    return path if what == "TRADES" else path.with_name(f"{path.stem}-{what.lower()}.parquet")


async def download(ib: IB, target: Target, req: Request) -> int:
    now = await answer(ib.reqCurrentTimeAsync(), "the server's time", target.timeout)
    contracts = await _qualified(ib, req.symbols, target.timeout)
    jobs = [await _job(ib, target, req, c, now) for c in contracts]
    governor = HistoryGovernor(DOWNLOAD_LIMITS.scaled(target.pacing_scale))
    downloader = Downloader(ib, governor, req.bar_seconds, req.what, target.timeout)
    print(_plan_text(jobs, req, governor))
    if req.what == ADJUSTED_LAST:
        print("ADJUSTED_LAST: IB serves it only up to now, without an end date, so each "
              "symbol comes in one request over the whole range and replaces its file "
              "(the adjustment changes with every split and dividend)")  # fmt: skip
    progress = Progress(sum(len(j.windows) for j in jobs), governor, downloader)
    downloader.window_event += progress.step
    try:
        tallies = await downloader.run(jobs)
    except asyncio.CancelledError:  # Ctrl-C: what arrived is stored
        progress.close()
        _finish(downloader.tallies)
        print("interrupted: every window that arrived is stored; run the same command to "
              "resume", file=sys.stderr)  # fmt: skip
        raise
    progress.close()
    _finish(tallies)
    failed = [t for t in tallies if t.error]
    for t in failed:
        print(f"ibbot {NAME}: {t.symbol}: {t.error}; run again to resume", file=sys.stderr)
    return EXIT_RUNTIME if failed else 0


async def _qualified(ib: IB, symbols: tuple[str, ...], timeout: float) -> list[Contract]:
    """Every symbol's contract, or ToolError (exit 2) naming each that does not qualify."""
    found, bad = [], []
    for s in symbols:
        try:
            found.append(await qualify(ib, contract_for(s), timeout))
        except ToolError as e:
            if e.code != EXIT_BAD_INPUT:
                raise
            bad.append(f"{s}: {e}")
    if bad:
        raise ToolError(EXIT_BAD_INPUT, "; ".join(bad) + ". Nothing downloaded.")
    return found


async def _job(ib: IB, target: Target, req: Request, c: Contract, now: datetime) -> Job:
    from bot.client.ib import RequestError

    name = c.localSymbol or c.symbol
    path = series_path(req.store, name, req.bar_seconds, req.what)
    head_of = "TRADES" if req.what == ADJUSTED_LAST else req.what
    try:
        head = await answer(
            ib.reqHeadTimeStampAsync(c, head_of, False, 2), f"the earliest {name} bar",
            target.timeout,
        )  # fmt: skip
    except RequestError as e:
        raise ToolError(EXIT_BAD_INPUT, f"IB has no {req.what} history for {name} (error "
                        f"{e.code}: {e.message}). Nothing downloaded.") from None  # fmt: skip
    start = max(req.span.start(now), head) if isinstance(head, datetime) else req.span.start(now)
    if req.what == ADJUSTED_LAST:
        windows: tuple[Window, ...] = (Window(now, str(req.span), forward=False),)
    else:
        stored = stored_range(path)
        first, last = (stored[0].to_pydatetime(), stored[1].to_pydatetime()) if stored else (
            None, None)  # fmt: skip
        windows = tuple(plan_windows(req.bar_seconds, start, now, first, last))
    opens = req.instruments.by_symbol(name).session_open if req.instruments else None
    return Job(name, c, path, windows, start, opens)


def _plan_text(jobs: list[Job], req: Request, governor: HistoryGovernor) -> str:
    total = sum(len(j.windows) for j in jobs)
    lines = []
    for j in jobs:
        kind = f"{bar_name(req.bar_seconds)} {req.what}"
        if not j.windows:
            lines.append(f"{j.symbol} {kind}: up to date in {j.path}")
            continue
        ahead = sum(w.forward for w in j.windows)
        parts = [f"{ahead} after the stored bars"] if ahead else []
        if len(j.windows) > ahead:
            parts.append(f"{len(j.windows) - ahead} back to {j.start:%Y-%m-%d %H:%M} UTC")
        lines.append(f"{j.symbol} {kind}: {_n(len(j.windows))} ({', '.join(parts)})")
    least = duration_text(governor.eta(total))
    lines.append(f"{_n(total)} in all; IB's pacing rules (60 per 10 minutes) allow them "
                 f"in no less than {least}")  # fmt: skip
    return "\n".join(lines)


def _n(requests: int) -> str:
    return f"{requests} request{'' if requests == 1 else 's'}"


def _finish(tallies: list[Tally]) -> None:
    from bot.runtime.text_table import render

    rows = []
    for t in tallies:
        first, last = (f"{x:%Y-%m-%d %H:%M}" for x in t.stored) if t.stored else ("-", "-")
        status = "error" if t.error else ("done" if t.requests == t.planned else "partial")
        rows.append([t.symbol, t.requests, t.added, t.replaced, t.empty, first, last, status,
                     t.path])  # fmt: skip
    head = ["symbol", "requests", "bars added", "replaced", "empty", "first (UTC)",
            "last (UTC)", "status", "file"]  # fmt: skip
    print(render(head, rows, cap=200))
