"""Plan and run a backtest: the very daemon of ``ibbot run`` (feed, indicators, strategies,
risk, executor, journal) against the embedded simulated gateway at max speed, from the first
trading day's regular open to the last one's close. Nothing here decides a trade or a fill, so
a backtest cannot drift from a run on the simulated gateway."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.backtest import kpis
from bot.backtest.inprocess import InProcessRun
from bot.backtest.progress import Progress
from bot.backtest.report import (
    Curve,
    build_curve,
    compute_kpis,
    daily_closes,
    open_positions,
    write_equity_csv,
    write_json,
    write_trades_csv,
)
from bot.config.bot_config import BotConfig
from bot.journal.queries import Fill, open_reader
from bot.runtime.deadlines import within
from bot.sim.epoch import EPOCH_DAY
from bot.sim.instruments import Instrument, Instruments
from bot.sim.market import Market
from bot.venues.sim import SimVenue
from bot.venues.sim_feed import finer_than_data


class BacktestError(Exception):
    """Bad input (no gateway block, bad range): exit code 2, with this message."""


@dataclass(frozen=True, slots=True)
class Plan:
    """What a backtest replays: the config (gateway and journal rewritten), its days and span."""

    cfg: BotConfig
    market: Market
    instruments: dict[str, Instrument]  # traded symbol name -> instrument
    days: list[date]  # trading days with data in the range
    start: datetime  # first day's regular open, UTC
    end: datetime  # last day's regular close, UTC
    cash: float
    out: Path

    @property
    def journal_path(self) -> Path:
        return self.cfg.journal.path


def default_out(config_path: Path, first: date, last: date) -> Path:
    return Path("runs") / f"backtest-{config_path.stem}-{first.isoformat()}-{last.isoformat()}"


def plan(
    cfg: BotConfig,
    first: date,
    last: date,
    *,
    out: Path,
    cash: float | None = None,
    market: Market | None = None,
) -> Plan:
    """Check the range against the config's gateway data and rewrite the config for the replay.

    Raises BacktestError (exit 2) when the config has no ``gateway:`` block, the range is
    reversed, or it holds no trading day with data for the traded symbols.
    """
    if cfg.gateway is None:
        raise BacktestError(
            "the config has no 'gateway:' block: a backtest replays the embedded simulated "
            "gateway's data (add e.g. 'gateway: {data: data/sample}')"
        )
    if first > last:
        raise BacktestError(f"--from {first} is after --to {last}")
    if cash is not None and not cash > 0:
        raise BacktestError(f"--cash must be positive, got {cash:g}")
    g = cfg.gateway
    if market is None:
        market = Market.load(g.data, Instruments.load(g.instruments), g.seed, g.bar_seconds)
    enabled = [s for s in cfg.strategies if s.enabled]
    if not enabled:
        raise BacktestError("the config has no enabled strategy")
    traded = sorted({sym for s in enabled for sym in s.symbols})
    by_name = {s.name: s for s in cfg.universe.symbols}
    instruments: dict[str, Instrument] = {}
    for name in traded:
        found = market.instruments.match(by_name[name].contract())
        if len(found) != 1 or not market.has_data(found[0].con_id):
            raise BacktestError(f"{name}: no market data in {g.data}")
        instruments[name] = found[0]
    for s in enabled:
        for name in s.symbols:
            data_s = market.bar_seconds(instruments[name].con_id)
            why = finer_than_data(name, s.bars.size, s.bars.size_s, data_s)
            if why:
                raise BacktestError(f"strategy {s.id}: {why}")
    if any(s.scanner for s in enabled):  # a daily scan may pick any stock with data
        for cid in market.con_ids():
            inst = market.instruments.by_con_id(cid)
            if inst.sec_type == "STK":
                instruments.setdefault(inst.symbol, inst)
    all_days = trading_days(market, instruments.values())
    if not all_days:
        raise BacktestError(f"{g.data}: no trading days with data for {', '.join(traded)}")
    days = [d for d in all_days if first <= d <= last]
    if not days:
        raise BacktestError(
            f"no trading day with data from {first} to {last}: the data in {g.data} covers "
            f"{all_days[0]} to {all_days[-1]}"
        )
    opens = [b[0] for i in instruments.values() if (b := i.liquid_session(days[0]))]
    closes = [b[1] for i in instruments.values() if (b := i.liquid_session(days[-1]))]
    start, end = min(opens), max(closes)
    gateway = g.model_copy(
        update={"start": start, "speed": 0, "cash": g.cash if cash is None else cash}
    )
    journal = cfg.journal.model_copy(update={"path": out / "journal.sqlite"})
    # A backtest is a paper run on the simulated gateway: dry_run would bypass the broker; and
    # it records nothing (a config's record: is for the sessions it runs live).
    run_cfg = cfg.model_copy(
        update={"gateway": gateway, "journal": journal, "dry_run": False, "record": None}
    )
    return Plan(run_cfg, market, instruments, days, start, end, gateway.cash, out)


def trading_days(market: Market, instruments: Iterable[Instrument]) -> list[date]:
    """Trading days (regular session) with data for any of ``instruments``."""
    days: set[date] = set()
    for inst in instruments:
        first, last = market.first_time(), market.last_time()
        what = "MIDPOINT" if inst.sec_type == "CASH" else "TRADES"
        span = f"{(last - first).days + 2} D"
        bars = market.history.historical_bars(inst.con_id, last, span, "1 day", what, True, last)
        for bar in bars:
            days.add(bar.date if isinstance(bar.date, date) else EPOCH_DAY)
    return sorted(days)


def _fresh_out(p: Plan) -> None:
    p.out.mkdir(parents=True, exist_ok=True)
    if p.journal_path.exists():  # a rerun replaces the earlier backtest's journal
        for suffix in ("", "-wal", "-shm"):
            Path(f"{p.journal_path}{suffix}").unlink(missing_ok=True)


async def replay_inprocess(
    p: Plan, *, progress: bool | None = None, handle_signals: bool = True
) -> tuple[int, InProcessRun]:
    """Run the daemon's parts in-process over the plan's span; (exit code, the run)."""
    _fresh_out(p)
    bar = Progress(p.start, p.end, enabled=progress)
    run = InProcessRun(p.cfg, p.market, start=p.start, end=p.end, cash=p.cash, progress=bar,
                       handle_signals=handle_signals)  # fmt: skip
    try:
        return await run.run(), run
    finally:
        bar.close()


async def replay(p: Plan, *, timeout: float | None = None) -> tuple[int, Any]:
    """Run the daemon over the plan's span through the embedded gateway; (exit code, Daemon)."""
    from bot.live.daemon import Daemon, RunOptions

    _fresh_out(p)
    options = RunOptions(
        handle_signals=True, print_summary=False, gateway_end=p.end, gateway_market=p.market,
        lockstep=True,
    )  # fmt: skip
    daemon = Daemon(p.cfg, options)
    code = await within(daemon.run(), timeout) if timeout else await daemon.run()
    return code, daemon


@dataclass(slots=True)
class Result:
    code: int  # the daemon's exit code
    plan: Plan
    figures: dict[str, dict[str, object]]  # per strategy and "total" (bot.backtest.kpis)
    curve: Curve
    open_positions: list[dict[str, object]]
    wall_seconds: float
    stop_reason: str
    # The simulated account's NetLiquidation when the replay ended (cash + positions at their
    # last print): a cross-check of the rebuilt equity, None if the gateway never started.
    gateway_net_liquidation: float | None


ENGINES = ("inprocess", "gateway")


def run_backtest(
    p: Plan,
    *,
    config_name: str = "",
    timeout: float | None = None,
    engine: str = "inprocess",
    progress: bool | None = None,
    kpi_settings: kpis.Settings = kpis.Settings(),  # noqa: B008 (frozen)
    handle_signals: bool = True,
) -> Result:
    """Replay (``engine``: in-process, or through the embedded gateway's wire protocol), then
    read the journal back and write equity.csv, trades.csv and kpis.json.

    ``handle_signals=False`` (in-process only) leaves SIGINT / SIGTERM to the caller: a sweep
    stops its workers itself rather than letting each replay end early with partial figures."""
    if engine not in ENGINES:
        raise BacktestError(f"unknown engine {engine!r}: one of {', '.join(ENGINES)}")
    t0 = time.monotonic()
    bars: int | None = None
    loop: float | None = None  # the replay loop's wall time (in-process only)
    if engine == "inprocess":
        code, run = asyncio.run(
            replay_inprocess(p, progress=progress, handle_signals=handle_signals)
        )
        stop_reason, nlv, bars = run.stop_reason, run.net_liquidation(), run.bars
        loop = round(run.loop_seconds, 3)
    else:
        code, daemon = asyncio.run(replay(p, timeout=timeout))
        stop_reason, nlv = str(getattr(daemon, "stop_reason", "")), _gateway_nlv(daemon)

    wall = time.monotonic() - t0
    fills: list[Fill] = []
    if p.journal_path.exists():
        with open_reader(p.journal_path) as journal:
            fills = journal.fills()
    closes = daily_closes(p.market, p.instruments, p.days, p.end)
    cutoffs = {
        name: {d: c for d in p.days if (c := inst.session_close(d)) is not None}
        for name, inst in p.instruments.items()
    }
    strategies = [s.id for s in p.cfg.strategies if s.enabled]
    curve = build_curve(fills, p.days, closes, cutoffs, p.cash, strategies, p.start)
    figures = compute_kpis(curve, kpi_settings)
    opened = open_positions(curve, closes)
    p.out.mkdir(parents=True, exist_ok=True)
    write_equity_csv(p.out / "equity.csv", curve)
    write_trades_csv(p.out / "trades.csv", curve.book.trades)
    write_json(
        p.out / "kpis.json",
        {
            "config": config_name,
            "from": p.days[0].isoformat(),
            "to": p.days[-1].isoformat(),
            "trading_days": len(p.days),
            "start": p.start.isoformat(),
            "end": p.end.isoformat(),
            "cash": p.cash,
            "journal": str(p.journal_path),
            "exit_code": code,
            "stop_reason": stop_reason,
            "engine": engine,
            "bars": bars,
            "loop_seconds": loop,
            "wall_seconds": round(wall, 3),
            "gateway_net_liquidation": nlv,
            "open_positions": opened,
            "kpis": figures,
        },
    )
    return Result(code, p, figures, curve, opened, wall, stop_reason, nlv)


def _gateway_nlv(daemon: Any) -> float | None:
    """The embedded gateway's account value (None: no gateway, or an account it never
    opened), read as the in-process engine reads its world's."""
    gw = getattr(daemon, "gateway", None)
    if gw is None or not daemon.account:
        return None
    return SimVenue(gw.world).net_liquidation(daemon.account)
