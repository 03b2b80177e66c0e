"""One wiring for every venue: config -> strategies, risk, executor, journal, bar source.

``ibbot run`` (bot/live/daemon.py, over IB or the simulated gateway) and ``ibbot backtest``'s
in-process engine (bot/backtest/inprocess.py, over the simulated world) both call ``qualify``
and ``build`` with their own adapters of the ports (bot/ports/venue.py), so what trades cannot drift
between them; only the connection, the clock and the stepping differ.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from bot.client.ib import Contract
from bot.config.bot_config import BotConfig
from bot.journal.store import Journal
from bot.market_data.recorder import Recorder
from bot.market_data.streams import BarHandler, TickHandler
from bot.orders.executor import OrderExecutor
from bot.orders.message_rate import PacingGovernor
from bot.portfolio.book import Portfolio
from bot.ports.venue import BarSource, BrokerPort, ScanRow, Venue
from bot.risk.manager import RiskManager
from bot.strategy import registry
from bot.strategy.context import SymbolInfo, next_trading_day
from bot.trading.daily_scan import DailyScans, day_symbols
from bot.trading.router import Clock, Router
from bot.trading.slots import IbPnlOf

log = logging.getLogger(__name__)

# (on_bar, on_tick) -> the venue's bar source
FeedFactory = Callable[[Callable[..., None], Callable[..., None]], BarSource]


class StartupError(Exception):
    """Bad input found at start-up (unknown contract, unknown account): exit code 2."""


async def qualify(cfg: BotConfig, venue: Venue) -> dict[str, SymbolInfo]:
    """Contract details of every universe symbol: exactly one match each, or StartupError."""
    symbols = cfg.universe.symbols
    found = await asyncio.gather(*(venue.contract_details(s.contract()) for s in symbols))
    infos: dict[str, SymbolInfo] = {}
    problems: list[str] = []
    for s, details in zip(symbols, found, strict=True):
        if not details:
            problems.append(f"{s.name}: IB knows no such contract ({_contract_text(s)})")
        elif len(details) > 1:
            where = ", ".join(sorted({d.contract.primaryExchange for d in details if d.contract}))
            problems.append(f"{s.name}: ambiguous, set primary_exchange (one of: {where})")
        else:
            infos[s.name] = SymbolInfo.from_details(s.name, details[0])
    if problems:
        raise StartupError("cannot qualify the universe:\n  " + "\n  ".join(problems))
    return infos


@dataclass(frozen=True, slots=True)
class Options:
    account: str
    dry_run: bool = False
    mode: str = "paper"
    live: bool = False
    pacing: PacingGovernor | None = None  # None: IB's message rate (a backtest has none)


class Trader:
    """The daemon's venue-agnostic parts, built once from a config by ``build``."""

    def __init__(
        self,
        cfg: BotConfig,
        *,
        venue: Venue,
        broker: BrokerPort,
        make_feed: FeedFactory,
        journal: Journal,
        infos: dict[str, SymbolInfo],
        clock: Clock,
        options: Options,
        heartbeat: Any = None,
        recorder: Recorder | None = None,
        ib_pnl: IbPnlOf | None = None,
    ) -> None:
        """``ib_pnl``: IB's daily P&L over some symbols (bot/live/ib_pnl.py); None: there is
        none (a backtest, a dry run)."""
        self.cfg, self.venue, self.infos, self.clock = cfg, venue, infos, clock
        self.journal = journal
        first_tz = next(iter(infos.values())).tz if infos else self._scanner_tz()
        # The one ledger (positions, P&L, commissions), rebuilt from the journal.
        self.pnl = Portfolio.restore(journal, first_tz, clock.now())
        self.executor = OrderExecutor(
            broker, cfg.executor, journal, account=options.account, dry_run=options.dry_run,
            now=clock.now, mode=options.mode, live=options.live, pacing=options.pacing,
            portfolio=self.pnl,
            gate=lambda sid, intent: self.risk.own_order(sid, intent, clock.now()),
        )  # fmt: skip
        for name, info in infos.items():
            self.executor.register_contract(name, info.contract, info.min_tick, info.details)
        self.risk = RiskManager(
            cfg.risk, journal, next_day=self._next_trading_day, portfolio=self.pnl,
            orders=self.executor, infos=infos,
            strategies={s.id: s.risk for s in cfg.strategies if s.enabled},
            flatten=self._flatten, ib_pnl=lambda sid: self.router.ib_pnl_of(sid),
        )  # fmt: skip
        self.risk.restore(clock.now())
        account = options.account
        self.router = Router(
            risk=self.risk,
            executor=self.executor,
            infos=infos,
            clock=clock,
            prices={},
            pnl=self.pnl,
            net_liquidation=lambda: venue.net_liquidation(account),
            journal_event=journal.record_event,
            reject_storm=cfg.risk.reject_storm,
            ib_pnl=ib_pnl,
        )
        on_bar: BarHandler = self.router.on_bar
        on_tick: TickHandler = self.router.on_tick
        if recorder is not None:  # records what the strategies get, as they get it
            on_bar, on_tick = recorder.wrap_bars(on_bar), recorder.wrap_ticks(on_tick)
        self.feed = make_feed(on_bar, on_tick)
        if recorder is not None:
            recorder.tick_by_tick = self.feed.tick_by_tick
        # The feed keeps the freshest prices; the router and the P&L read them.
        self.router.prices = self.pnl.marks = self.feed.last_price
        for s in cfg.strategies:
            if not s.enabled:
                log.info("strategy %s is disabled in the config", s.id)
                continue
            self.router.add_strategy(s, registry.get(s.class_), s.typed_params())
            self.router.attach(self.feed, s.id, s.bars)
        self.executor.fill_event += self.router.on_fill
        self.executor.rejection_event += self.router.on_broker_rejection
        self.executor.unprotected_event += lambda sid, symbol, ref, error, qty: (
            self.risk.on_unprotected(sid, symbol, ref, error, qty, clock.now()))  # fmt: skip
        self.executor.order_event += self.router.on_order
        scanners = {s.id: s.scanner for s in cfg.strategies if s.enabled and s.scanner}
        self.scans: DailyScans | None = None
        if scanners:
            self.scans = DailyScans(
                venue, scanners, self.take_scan, heartbeat=heartbeat,
                journal_event=journal.record_event,
            )  # fmt: skip

    # ---- the operator's kill switch (bot/risk/kill_switch.py) -------------------------------

    def kill(self, strategy_id: str | None, reason: str) -> None:
        """HALTED until resume, cancel the scope's working orders (the account's: global
        cancel), flatten with market orders (each passing the risk stage as its own)."""
        self.router.counters.kills.append(f"{strategy_id or 'all'}: {reason}")
        self.risk.halt(reason, strategy_id=strategy_id, now=self.clock.now())
        self.executor.kill(strategy_id)

    def resume(self, strategy_id: str | None, reason: str) -> None:
        self.risk.resume(strategy_id=strategy_id, now=self.clock.now(), reason=reason)

    @property
    def traded(self) -> set[str]:
        """The symbols the config's enabled strategies trade (fixed ones)."""
        return {sym for s in self.cfg.strategies if s.enabled for sym in s.symbols}

    def _flatten(self, strategy_id: str | None, symbol: str | None, reason: str) -> None:
        """The risk stage's flatten (a limit, the close): one scope, one symbol or all."""
        log.warning("flatten %s%s: %s", strategy_id or "all strategies",
                    f" on {symbol}" if symbol else "", reason)  # fmt: skip
        self.executor.flatten(strategy_id, symbol)

    def _next_trading_day(self, strategy_id: str, now: datetime) -> datetime | None:
        slot = self.router.slots.get(strategy_id)
        infos = [self.infos[s] for s in slot.symbols if s in self.infos] if slot else []
        return next_trading_day(infos, now)

    def _scanner_tz(self) -> Any:
        tz = next((s.scanner.timezone for s in self.cfg.strategies if s.scanner), "UTC")
        return ZoneInfo(tz)

    # ---- daily scans --------------------------------------------------------------------

    async def take_scan(self, strategy_id: str, day: date, rows: list[ScanRow]) -> None:
        """A daily scan's rows become the strategy's symbols: its fixed ones, the scanned ones
        (qualified), and earlier scans' that it still holds a position or orders in."""
        scfg = next(s for s in self.cfg.strategies if s.id == strategy_id)
        scanned = await self._qualify_scanned(rows)
        ex = self.executor
        symbols, keep, dropped = day_symbols(
            scfg.symbols,
            scanned,
            self.router.slots[strategy_id].ctx.symbols,
            lambda sym: bool(ex.position(strategy_id, sym) or ex.working_orders(strategy_id, sym)),
        )
        new = self.router.set_symbols(self.feed, strategy_id, symbols)
        log.info(
            "%s: symbols for %s: %s%s%s", strategy_id, day, ", ".join(symbols) or "(none)",
            f"; kept (open) {', '.join(keep)}" if keep else "",
            f"; dropped {', '.join(dropped)}" if dropped else "",
        )  # fmt: skip
        await self.feed.start_streams(new)

    async def _qualify_scanned(self, rows: list[ScanRow]) -> list[str]:
        """Names of the scanned contracts that qualify (universe defaults for exchange etc.,
        the scan's conId to pin the contract); the others are logged and left out."""
        d = self.cfg.universe.defaults
        todo: list[tuple[str, Contract]] = []
        names: list[str] = []
        for r in rows:
            name = f"{r.symbol}.{r.currency}" if r.sec_type == "CASH" else r.symbol
            names.append(name)
            if name in self.infos:
                continue
            if r.sec_type != d.sec_type or r.currency != d.currency:
                log.warning("scanned %s is %s %s, not the universe's %s %s; skipped", name,
                            r.sec_type, r.currency, d.sec_type, d.currency)  # fmt: skip
                names.pop()
                continue
            contract = Contract(conId=r.con_id, secType=d.sec_type, symbol=r.symbol,
                                exchange=d.exchange, currency=d.currency)  # fmt: skip
            todo.append((name, contract))
        found = await asyncio.gather(
            *(self.venue.contract_details(c) for _, c in todo), return_exceptions=True
        )
        for (name, _), details in zip(todo, found, strict=True):
            if isinstance(details, BaseException) or len(details) != 1:
                log.warning("scanned %s does not qualify (%s); skipped", name,
                            details if isinstance(details, BaseException) else
                            f"{len(details)} matches")  # fmt: skip
                names.remove(name)
                continue
            info = SymbolInfo.from_details(name, details[0])
            self.infos[name] = info
            self.executor.register_contract(name, info.contract, info.min_tick, info.details)
        return names


def _contract_text(s: Any) -> str:
    parts = [s.sec_type, s.symbol, s.exchange, s.currency]
    if s.primary_exchange:
        parts.append(f"primary {s.primary_exchange}")
    return " ".join(parts)
