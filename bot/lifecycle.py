"""The daemon's life: connect, qualify, warm up, trade, stop; and reconnect in between.

``Daemon(cfg, options).run()`` is ``ibbot run``: it starts the embedded simulated gateway when
the config has one, connects ib_insync, checks the paper/live guard, qualifies the universe,
builds the risk stage, executor, strategies and feed (``bot/engine.py`` wires them), reconciles
with IB, warms up, calls ``on_start`` and trades until a signal, ``--duration``, the end of the
embedded gateway's data, or a fatal error. Stopping takes well under 5 s: ``on_stop``, unsubscribe,
cancel working orders if ``executor.cancel_on_stop``, flush the journal, disconnect, summary.

Strategies with a ``scanner`` get their symbols each trading day from a market scan
(``bot/daily_scan.py``): the scanned contracts are qualified here, then ``Engine.set_symbols``
and ``Feed.start_streams`` subscribe and warm them up.

On ``disconnectedEvent`` it reconnects with backoff, re-qualifies, resubscribes (bars missed
while away arrive as warm-up, never traded on) and reconciles orders and executions.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from ib_insync import IB, Contract

from bot import registry
from bot.config import BotConfig
from bot.context import PnlBook, SymbolInfo, next_trading_day
from bot.daily_scan import DailyScans, ScanRow, day_symbols
from bot.engine import Clock, Engine
from bot.events import OrderType
from bot.executor import OrderExecutor
from bot.feed import Feed
from bot.guard import GuardError, check_account
from bot.journal import Journal, broker_identity, dry_run_path
from bot.positions import PositionMismatchError
from bot.risk import RiskManager
from bot.status import status_line, summary_text

if TYPE_CHECKING:  # loaded only with the embedded gateway
    from bot.sim.market import Market

log = logging.getLogger(__name__)

# Why a run against the embedded gateway stopped when its replay ran out (not a signal).
END_OF_DATA = "end of the simulated gateway's data"

EXIT_OK, EXIT_RUNTIME, EXIT_BAD_INPUT = 0, 1, 2


class StartupError(Exception):
    """Bad input found at start-up (unknown contract, unknown account): exit code 2."""


_REFUSALS = (GuardError, StartupError, PositionMismatchError)  # exit 2, nothing sent


@dataclass(frozen=True, slots=True)
class RunOptions:
    dry_run: bool = False  # or-ed with the config's dry_run
    live: bool = False  # the --live flag (the guard also needs mode: live)
    duration: float | None = None  # wall seconds, then stop
    handle_signals: bool = True
    stop_timeout: float = 5.0
    reconnect_delays: tuple[float, ...] = (0.5, 1, 2, 4, 8, 15, 30)
    print_summary: bool = True
    # Embedded gateway: end its replay at this simulated time (None: at the end of the data).
    gateway_end: datetime | None = None
    # Embedded gateway: replay this already loaded market (bot.sim.market.Market) instead of
    # loading the config's data again (a backtest has loaded it to plan its range).
    gateway_market: Market | None = None
    # --reset-positions: where the journal's positions disagree with the account, start the
    # strategies flat instead of refusing to trade (bot/executor.py, reconcile).
    reset_positions: bool = False


class Daemon:
    def __init__(self, cfg: BotConfig, options: RunOptions | None = None) -> None:
        self.cfg = cfg
        self.opts = options or RunOptions()
        self.dry_run = cfg.dry_run or self.opts.dry_run
        self.ib = IB()
        self.clock = Clock(datetime(1970, 1, 1, tzinfo=UTC))  # server time once connected
        self.gateway: Any = None
        self.journal: Journal | None = None
        self.executor: OrderExecutor | None = None
        self.engine: Engine | None = None
        self.feed: Feed | None = None
        self.infos: dict[str, SymbolInfo] = {}
        self.scans: DailyScans | None = None
        self.account = ""
        self.stop_reason = ""
        self.summary = ""
        self.ready: asyncio.Event | None = None  # set once live (tests await it)
        self._stop: asyncio.Event | None = None
        self._stopping = False
        self._reconnect: asyncio.Task[None] | None = None
        self._connected_once = False
        self._refused = False  # refused at start-up: send nothing, not even cancels
        self._started_wall = time.monotonic()

    # ---- the whole run ------------------------------------------------------------------

    async def run(self) -> int:
        """Run until stopped; the exit code (0 clean stop, 2 bad input / guard, 1 failure)."""
        self.ready = asyncio.Event()
        self._stop = asyncio.Event()
        self._started_wall = time.monotonic()
        code = EXIT_OK
        try:
            if await self._started():
                self.ready.set()
                await self._trade()
            if self.stop_reason.startswith("error"):
                code = EXIT_RUNTIME
        except _REFUSALS as e:
            log.error("%s", e)
            self.stop_reason = str(e)
            self._refused = True
            code = EXIT_BAD_INPUT
        except (ConnectionError, OSError, TimeoutError) as e:
            log.error(
                "cannot reach IB at %s: %s. Is TWS or IB Gateway running, logged in, with the API "
                "enabled on that port (Configure > API > Settings)? No IB account at hand: "
                "ibbot run config/demo.yaml starts the simulated gateway.",
                self._address(),
                e or type(e).__name__,
            )
            self.stop_reason = "connection failed"
            code = EXIT_RUNTIME
        except Exception as e:
            log.exception("daemon failed: %s", e)
            self.stop_reason = f"error: {e}"
            code = EXIT_RUNTIME
        finally:
            try:
                await asyncio.wait_for(self._shutdown(), self.opts.stop_timeout)
            except TimeoutError:
                log.error(
                    "shutdown took longer than %.0f s; exiting anyway", self.opts.stop_timeout
                )
        return code

    async def _started(self) -> bool:
        """Start up, unless a stop request (a signal during the warm-up) comes first."""
        assert self._stop is not None
        start = asyncio.create_task(self._start(), name="start-up")
        stop = asyncio.create_task(self._stop.wait(), name="stop-wait")
        await asyncio.wait({start, stop}, return_when=asyncio.FIRST_COMPLETED)
        if start.done():
            stop.cancel()
            start.result()  # raises what start-up raised
            return True
        start.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await start
        return False

    def request_stop(self, reason: str) -> None:
        """Ask the daemon to stop (signal handlers, --duration, tests); idempotent."""
        if not self.stop_reason:
            self.stop_reason = reason
            log.info("stopping: %s", reason)
        if self._stop is not None:
            self._stop.set()

    # ---- start-up -----------------------------------------------------------------------

    async def _start(self) -> None:
        cfg = self.cfg
        self._install_signals()
        if cfg.gateway is not None:
            await self._start_gateway()
        await self._connect()
        self.account = self._choose_account()
        if not self.dry_run:  # before anything else: no order may reach a real-money account
            check_account(self.account, mode=cfg.mode, live_flag=self.opts.live)
        self.clock.advance(await self.ib.reqCurrentTimeAsync())
        path = dry_run_path(cfg.journal.path) if self.dry_run else cfg.journal.path
        self.journal = Journal(path)
        # The embedded gateway is a new simulated world each run: nothing of earlier runs
        # (positions, order sequences, execIds) belongs to it. A real account continues its book.
        broker = broker_identity(self.account, embedded=self.gateway is not None)
        self.journal.begin_run(
            now=self.clock.now(), account=self.account, mode=cfg.mode, dry_run=self.dry_run,
            config=cfg.model_dump_json(), broker=broker,
        )  # fmt: skip
        self.infos = await self._qualify()
        self._build()
        assert self.executor is not None and self.feed is not None and self.engine is not None
        traded = {sym for s in cfg.strategies if s.enabled for sym in s.symbols}
        await self.executor.reconcile(verify=traded, reset=self.opts.reset_positions)
        await self.feed.start()
        self.ib.disconnectedEvent += self._on_disconnect
        log.info(
            "live: account %s%s, %d symbols, %d strategies; warm-up %d bars",
            self.account, " (dry run: nothing is sent)" if self.dry_run else "",
            len(self.infos), len(self.engine.slots), self.feed.warmup_bars,
        )  # fmt: skip
        self.engine.start_strategies()

    async def _start_gateway(self) -> None:
        from bot.gateway.server import Gateway, GatewayConfig
        from bot.sim.broker import BrokerConfig

        g = self.cfg.gateway
        assert g is not None
        gcfg = GatewayConfig(
            host="127.0.0.1",
            port=0,
            data_dir=g.data,
            instruments_path=g.instruments,
            start=g.start,
            end=self.opts.gateway_end,
            speed=g.speed,
            account=g.account,
            cash=g.cash,
            seed=g.seed,
            server_version=None,
            broker=BrokerConfig.of(g.participation, g.slippage_ticks, g.commission),
        )
        if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
            # Its per-request lines would drown the bot's own; warnings still show.
            logging.getLogger("bot.gateway").setLevel(logging.WARNING)
        market = self.opts.gateway_market
        self.gateway = Gateway(
            gcfg, instruments=market.instruments if market else None, market=market
        )
        await self.gateway.start()
        log.info(
            "embedded simulated gateway on 127.0.0.1:%d (synthetic sample prices, speed %sx)",
            self.gateway.port, g.speed or "max",
        )  # fmt: skip

    def _address(self) -> str:
        if self.gateway is not None:
            return f"127.0.0.1:{self.gateway.port} (embedded gateway)"
        return f"{self.cfg.ib.host}:{self.cfg.ib.port}"

    async def _connect(self) -> None:
        ib_cfg = self.cfg.ib
        host, port = ib_cfg.host, ib_cfg.port
        if self.gateway is not None:
            host, port = "127.0.0.1", int(self.gateway.port)
        await self.ib.connectAsync(
            host,
            port,
            clientId=ib_cfg.client_id,
            timeout=ib_cfg.connect_timeout,
            readonly=ib_cfg.readonly or self.dry_run,
            account=ib_cfg.account or "",
        )
        self._connected_once = True
        log.info("connected to %s as client %d", self._address(), ib_cfg.client_id)

    def _choose_account(self) -> str:
        managed = self.ib.managedAccounts()
        wanted = self.cfg.ib.account
        if wanted:
            if managed and wanted not in managed:
                raise StartupError(
                    f"account {wanted} is not managed by this login (it has: {', '.join(managed)})"
                )
            return wanted
        if not managed:
            raise StartupError("IB reported no managed account")
        return managed[0]

    async def _qualify(self) -> dict[str, SymbolInfo]:
        """Contract details of every universe symbol: exactly one match each, or exit 2."""
        symbols = self.cfg.universe.symbols
        found = await asyncio.gather(
            *(self.ib.reqContractDetailsAsync(s.contract()) for s in symbols)
        )
        infos: dict[str, SymbolInfo] = {}
        problems: list[str] = []
        for s, details in zip(symbols, found, strict=True):
            if not details:
                problems.append(f"{s.name}: IB knows no such contract ({_contract_text(s)})")
            elif len(details) > 1:
                where = ", ".join(
                    sorted({d.contract.primaryExchange for d in details if d.contract})
                )
                problems.append(f"{s.name}: ambiguous, set primary_exchange (one of: {where})")
            else:
                infos[s.name] = SymbolInfo.from_details(s.name, details[0])
        if problems:
            raise StartupError("cannot qualify the universe:\n  " + "\n  ".join(problems))
        return infos

    def _build(self) -> None:
        cfg, journal = self.cfg, self.journal
        assert journal is not None
        self.executor = OrderExecutor(
            self.ib,
            cfg.executor,
            journal,
            account=self.account,
            dry_run=self.dry_run,
            now=self.clock.now,
            mode=cfg.mode,
            live=self.opts.live,
        )
        for name, info in self.infos.items():
            self.executor.register_contract(name, info.contract, info.min_tick)
        risk = RiskManager(cfg.risk, journal, next_day=self._next_trading_day)
        first_tz = next(iter(self.infos.values())).tz if self.infos else self._scanner_tz()
        prices: dict[str, float] = {}
        pnl = PnlBook(first_tz, prices, self.executor.commission)
        engine = Engine(
            risk=risk,
            executor=self.executor,
            infos=self.infos,
            clock=self.clock,
            prices=prices,
            pnl=pnl,
            net_liquidation=self._net_liquidation,
            journal_event=journal.record_event,
        )
        feed = Feed(self.ib, engine.on_bar, engine.on_tick)
        prices_live = feed.last_price  # the feed keeps it; the engine and P&L read it
        engine.prices = prices_live
        pnl.marks = prices_live
        for s in cfg.strategies:
            if not s.enabled:
                log.info("strategy %s is disabled in the config", s.id)
                continue
            engine.add_strategy(s, registry.get(s.class_), s.typed_params())
            engine.attach(feed, s.id, s.bars)
        self.executor.fill_event += engine.on_fill
        self.executor.rejection_event += engine.on_rejection
        self.engine, self.feed = engine, feed
        scanners = {s.id: s.scanner for s in cfg.strategies if s.enabled and s.scanner}
        if scanners:
            self.scans = DailyScans(
                self.ib, scanners, self._take_scan, journal_event=journal.record_event
            )

    def _next_trading_day(self, strategy_id: str, now: datetime) -> datetime | None:
        slot = self.engine.slots.get(strategy_id) if self.engine is not None else None
        infos = [self.infos[s] for s in slot.symbols if s in self.infos] if slot else []
        return next_trading_day(infos, now)

    def _scanner_tz(self) -> Any:
        tz = next((s.scanner.timezone for s in self.cfg.strategies if s.scanner), "UTC")
        return ZoneInfo(tz)

    # ---- daily scans --------------------------------------------------------------------

    async def _take_scan(self, strategy_id: str, day: date, rows: list[ScanRow]) -> None:
        """A daily scan's rows become the strategy's symbols: its fixed ones, the scanned ones
        (qualified), and earlier scans' that it still holds a position or orders in."""
        assert self.engine is not None and self.feed is not None and self.executor is not None
        scfg = next(s for s in self.cfg.strategies if s.id == strategy_id)
        scanned = await self._qualify_scanned(rows)
        ex = self.executor
        symbols, keep, dropped = day_symbols(
            scfg.symbols,
            scanned,
            self.engine.slots[strategy_id].ctx.symbols,
            lambda sym: bool(ex.position(strategy_id, sym) or ex.working_orders(strategy_id, sym)),
        )
        new = self.engine.set_symbols(self.feed, strategy_id, symbols)
        log.info(
            "%s: symbols for %s: %s%s%s", strategy_id, day, ", ".join(symbols) or "(none)",
            f"; kept (open) {', '.join(keep)}" if keep else "",
            f"; dropped {', '.join(dropped)}" if dropped else "",
        )  # fmt: skip
        await self.feed.start_streams(new)

    async def _qualify_scanned(self, rows: list[ScanRow]) -> list[str]:
        """Names of the scanned contracts that qualify (universe defaults for exchange etc.,
        the scan's conId to pin the contract); the others are logged and left out."""
        assert self.executor is not None
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
            *(self.ib.reqContractDetailsAsync(c) for _, c in todo), return_exceptions=True
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
            self.executor.register_contract(name, info.contract, info.min_tick)
        return names

    def _net_liquidation(self) -> float | None:
        for v in self.ib.accountValues(self.account):
            if v.tag == "NetLiquidation" and v.currency in ("USD", "BASE", ""):
                try:
                    return float(v.value)
                except ValueError:
                    return None
        return None

    # ---- trading ------------------------------------------------------------------------

    async def _trade(self) -> None:
        assert self._stop is not None
        loop = asyncio.get_running_loop()
        timers: list[asyncio.TimerHandle] = []
        if self.opts.duration is not None:
            timers.append(
                loop.call_later(self.opts.duration, self.request_stop, "--duration reached")
            )
        tasks = [asyncio.create_task(self._status_loop(), name="status")]
        if self.scans:
            assert self.feed is not None
            feed = self.feed
            feed.clock_listeners.append(self.scans.observe)
            tasks.append(
                asyncio.create_task(self.scans.run(idle=lambda: not feed.streams), name="scans")
            )
        if self.gateway is not None:
            tasks.append(asyncio.create_task(self._watch_gateway(), name="gateway-watch"))
        try:
            await self._stop.wait()
        finally:
            for t in timers:
                t.cancel()
            if self.scans:
                await self.scans.stop()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    async def _status_loop(self) -> None:
        interval = self.cfg.status_interval_s
        while True:
            await asyncio.sleep(interval)
            log.info("%s", self.status())

    async def _watch_gateway(self) -> None:
        """Stop when the embedded gateway's replay has passed the end of the data this run
        subscribes to (other instruments' data may run on: EUR.USD trades until 17:00)."""
        assert self.feed is not None
        gw = self.gateway
        subscribed: set[int] | None = None
        end = gw.clock.now()
        while True:
            await asyncio.sleep(0.25)
            now_subscribed = {c.conId for c in self.feed.contracts()}
            if now_subscribed != subscribed:  # a daily scan changed the symbols
                subscribed, end = now_subscribed, self._replay_end()
            if gw.clock.now() >= end or gw.finished:
                # Let the last bars and fills arrive before stopping.
                await asyncio.sleep(0.5)
                self.request_stop(END_OF_DATA)
                return

    def _replay_end(self) -> datetime:
        """End of the embedded gateway's data for the contracts the feed subscribed, capped by
        ``RunOptions.gateway_end``: the end of each one's last 1-minute bar."""
        assert self.feed is not None
        gw = self.gateway
        market = gw.market
        end = market.last_time()
        if self.opts.gateway_end is not None:
            end = min(end, self.opts.gateway_end)
        con_ids = {c.conId for c in self.feed.contracts()}
        ends = []
        for cid in con_ids:
            if not market.has_data(cid):
                continue
            what = "MIDPOINT" if gw.instruments.by_con_id(cid).sec_type == "CASH" else "TRADES"
            bars = market.historical_bars(cid, end, "2 D", "1 min", what, False, end)
            if bars:
                ends.append(_utc(bars[-1].date) + timedelta(minutes=1))
        return min(end, max(ends)) if ends else end

    def status(self) -> str:
        assert self.engine is not None and self.feed is not None
        return status_line(self)

    # ---- reconnect ----------------------------------------------------------------------

    def _on_disconnect(self) -> None:
        if self._stopping:
            return
        log.warning("disconnected from IB; reconnecting")
        if self.feed is not None:
            self.feed.stop()
        if self.journal is not None:
            self.journal.record_event("disconnect", "connection lost", self.clock.now())
        if self._reconnect is None or self._reconnect.done():
            self._reconnect = asyncio.create_task(self._reconnect_loop(), name="reconnect")

    async def _reconnect_loop(self) -> None:
        delays = self.opts.reconnect_delays
        attempt = 0
        while not self._stopping:
            delay = delays[min(attempt, len(delays) - 1)]
            attempt += 1
            await asyncio.sleep(delay)
            if self._stopping:
                return
            try:
                await self._resume()
            except Exception as e:
                log.warning("reconnect attempt %d failed: %s", attempt, e or type(e).__name__)
                if self.ib.isConnected():
                    self.ib.disconnectedEvent -= self._on_disconnect
                    self.ib.disconnect()
                    self.ib.disconnectedEvent += self._on_disconnect
                continue
            log.info("reconnected after %d attempt(s)", attempt)
            if self.journal is not None:
                self.journal.record_event(
                    "reconnect", f"after {attempt} attempts", self.clock.now()
                )
            return

    async def _resume(self) -> None:
        assert self.feed is not None and self.executor is not None
        await self._connect()
        infos = await self._qualify()
        for name, info in infos.items():
            if info.contract.conId != self.infos[name].contract.conId:
                raise StartupError(f"{name} now qualifies to another contract")
        await self.executor.reconcile()
        await self.feed.start()

    # ---- stopping -----------------------------------------------------------------------

    async def _shutdown(self) -> None:
        self._stopping = True
        self._remove_signals()
        if self._reconnect is not None and not self._reconnect.done():
            self._reconnect.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reconnect
        connected = self.ib.isConnected()
        if self.engine is not None and connected and self.ready and self.ready.is_set():
            sent = self.engine.counters.orders
            self.engine.stop_strategies()
            if self.engine.counters.orders > sent:
                # on_stop sent orders (e.g. a flatten): give market orders a moment to fill
                # before cancel_on_stop cancels whatever still works.
                await self._settle_market_orders(min(2.0, self.opts.stop_timeout / 3))
        if self.feed is not None:
            self.feed.stop()
        if self.executor is not None and connected and not self._refused:
            self.executor.shutdown()
        if self.engine is not None and self.feed is not None and not self._refused:
            self.summary = summary_text(self)
        if self.journal is not None:
            self.journal.end_run(now=self.clock.now(), summary=self.summary)
            self.journal.close()
        if connected:
            await asyncio.sleep(0)  # let the transport take what cancel_all wrote
            self.ib.disconnect()
        if self.gateway is not None:
            with contextlib.suppress(Exception):
                await self.gateway.stop()
        if self.summary and self.opts.print_summary:
            print(self.summary, flush=True)

    async def _settle_market_orders(self, timeout: float) -> None:
        assert self.engine is not None and self.executor is not None
        ex = self.executor
        pairs = [(sid, sym) for sid, slot in self.engine.slots.items() for sym in slot.symbols]

        def working() -> bool:
            return any(
                w.spec.order_type is OrderType.MARKET
                for sid, sym in pairs
                for w in ex.working_orders(sid, sym).values()
            )

        deadline = time.monotonic() + timeout
        while working() and time.monotonic() < deadline:
            await asyncio.sleep(0.02)

    def _install_signals(self) -> None:
        if not self.opts.handle_signals:
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.request_stop, f"signal {sig.name}")

    def _remove_signals(self) -> None:
        if not self.opts.handle_signals:
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)

    @property
    def uptime(self) -> float:
        return time.monotonic() - self._started_wall


def _contract_text(s: Any) -> str:
    parts = [s.sec_type, s.symbol, s.exchange, s.currency]
    if s.primary_exchange:
        parts.append(f"primary {s.primary_exchange}")
    return " ".join(parts)


def _utc(t: Any) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
