"""The daemon's life: connect, qualify, warm up, trade, stop; and reconnect in between.

``Daemon(cfg, options).run()`` is ``ibbot run``: it starts the embedded simulated gateway when
the config has one, connects ib_insync, checks the paper/live guard, qualifies the universe,
builds the risk stage, executor, strategies and feed (``bot/trading/router.py`` wires them),
reconciles with IB, warms up, calls ``on_start`` and trades until a signal, ``--duration``, the end
of the
embedded gateway's data, or a fatal error. Stopping takes well under 5 s: ``on_stop``, unsubscribe,
cancel working orders if ``executor.cancel_on_stop``, flush the journal, disconnect, summary.

Strategies with a ``scanner`` get their symbols each trading day from a market scan
(``bot/trading/daily_scan.py``): the scanned contracts are qualified here, then
``Engine.set_symbols`` and ``Feed.start_streams`` subscribe and warm them up.

Faults are the connection supervisor's (``bot/live/supervisor.py``): socket loss, 1100/1101/1102,
data farms, 326, the maintenance window; on a reconnect it asks this daemon to ``resume``:
connect, re-qualify (a contract that now qualifies differently stops the run), reconcile orders
and executions, resubscribe and backfill the gap (bots/feed.py). The staleness watchdog
(``bot/live/watchdog.py``) is polled here with the server's time. A journal that cannot be written
stops the run (exit 1): no order may go out without its row (bot/journal/store.py).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Protocol

from bot.client.ib import describe, new_ib
from bot.config.settings import BotConfig, EmbeddedGatewayConfig
from bot.journal.store import Journal, JournalError, broker_identity, dry_run_path
from bot.live.ib_pnl import IbPnl
from bot.live.status import status_line, summary_text
from bot.live.supervisor import (
    Backoff,
    FarmStates,
    FatalConnectionError,
    MaintenanceWindow,
    Supervisor,
    connect_with_client_ids,
    wall_estimate,
)
from bot.live.watchdog import StaleWatchdog, WatchdogSettings
from bot.market_data.data_lines import DataLinesExceeded
from bot.market_data.history_pacing import HistoryGovernor, HistoryLimits
from bot.market_data.ib_feed import Feed
from bot.market_data.recorder import Recorder, open_recorder
from bot.model.events import OrderType
from bot.orders.executor import OrderExecutor
from bot.orders.guard import GuardError, check_account
from bot.orders.pacing import PacingGovernor
from bot.portfolio.positions import PositionMismatchError
from bot.risk.kill_switch import OperatorControl
from bot.runtime.deadlines import within
from bot.strategy.context import SymbolInfo, zone
from bot.trading.daily_scan import DailyScans
from bot.trading.kernel import Options, StartupError, Trader, qualify
from bot.trading.router import Clock, Engine, TickKindConflict
from bot.venues.dry_run import DryRunBroker
from bot.venues.ib import IbBroker, IbVenue

if TYPE_CHECKING:  # loaded only with the embedded gateway
    from bot.sim.market import Market

log = logging.getLogger(__name__)

# Why a run against the embedded gateway stopped when its replay ran out (not a signal).
END_OF_DATA = "end of the simulated gateway's data"
# The entry pause (bot/entry_gate.py) after a failed journal write.
JOURNAL = "journal"

EXIT_OK, EXIT_RUNTIME, EXIT_BAD_INPUT = 0, 1, 2


# exit 2, nothing sent
_REFUSALS = (GuardError, StartupError, PositionMismatchError, TickKindConflict, DataLinesExceeded)


@dataclass(frozen=True, slots=True)
class RunOptions:
    dry_run: bool = False  # or-ed with the config's dry_run
    live: bool = False  # the --live flag (the guard also needs mode: live)
    duration: float | None = None  # wall seconds, then stop
    handle_signals: bool = True
    stop_timeout: float = 5.0
    print_summary: bool = True
    # Embedded gateway: end its replay at this simulated time (None: at the end of the data).
    gateway_end: datetime | None = None
    # Embedded gateway: replay this already loaded market (bot.sim.market.Market) instead of
    # loading the config's data again (a backtest has loaded it to plan its range).
    gateway_market: Market | None = None
    # --reset-positions: where the journal's positions disagree with the account, start the
    # strategies flat instead of refusing to trade (bot/orders/executor.py, reconcile).
    reset_positions: bool = False
    # Embedded gateway at max speed, in lockstep with this daemon (``ibbot backtest --engine
    # gateway``, and any embedded gateway at speed 0: see ``for_gateway``): no step before
    # start-up is done, and none before the daemon has answered the last one; no client-side
    # throttle and no message-rate pacing, so results do not depend on wall-clock time.
    lockstep: bool = False
    # ``ibbot run``, a process of its own: once live, everything start-up made (imports,
    # config, warm-up history) is moved out of the garbage collector's sight (gc.freeze), so
    # a full collection on the bar-to-order path walks only what trading made since (as
    # bench/latency_bench.py measures). Off where the daemon shares its process (tests).
    freeze_startup: bool = False

    def for_gateway(self, g: EmbeddedGatewayConfig | None) -> RunOptions:
        """These options for a config's embedded gateway: at speed 0 it replays in lockstep, as
        a race between two event loops would make the outcome depend on the machine's speed."""
        return replace(self, lockstep=True) if g is not None and g.speed == 0 else self


class OpsPort(Protocol):
    """The operations front the command attaches (bot/ops/server.py: metrics, health, status,
    control, notifications): built before anything connects (it checks its secrets), started
    once live, stopped last. The daemon never imports the ops layer above it."""

    async def start(self, daemon: Daemon) -> None: ...

    async def stop(self) -> None: ...


class Daemon:
    def __init__(
        self, cfg: BotConfig, options: RunOptions | None = None,
        ops: Callable[[BotConfig], OpsPort] | None = None,
    ) -> None:  # fmt: skip
        self.cfg = cfg
        self._make_ops = ops
        self.opts = (options or RunOptions()).for_gateway(cfg.gateway)
        self.dry_run = cfg.dry_run or self.opts.dry_run
        self.ib = new_ib()
        self.venue = IbVenue(self.ib)
        self.clock = Clock(datetime(1970, 1, 1, tzinfo=UTC))  # server time once connected
        self.gateway: Any = None
        self.journal: Journal | None = None
        self.executor: OrderExecutor | None = None
        self.engine: Engine | None = None
        self.feed: Feed | None = None
        self.infos: dict[str, SymbolInfo] = {}
        self.scans: DailyScans | None = None
        self.ib_pnl: IbPnl | None = None  # IB's own P&L (not in a dry run: not the bot's)
        self.trader: Trader | None = None
        self.control: OperatorControl | None = None
        self.account = ""
        self.stop_reason = ""
        self.summary = ""
        self.ready: asyncio.Event | None = None  # set once live (tests await it)
        self._stop: asyncio.Event | None = None
        self._stopping = False
        self.supervisor: Supervisor | None = None
        self.farms = FarmStates()  # heard from the connect on; the supervisor's once it runs
        self.watchdog: StaleWatchdog | None = None
        self.client_id = cfg.ib.client_id  # the one connected (326: a later one)
        self._refused = False  # refused at start-up: send nothing, not even cancels
        self._started_wall = time.monotonic()
        self.ops: OpsPort | None = None  # metrics, health, status, control, notifications
        self.recorder: Recorder | None = None  # record: (bot/market_data/recorder.py)

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
        except (FatalConnectionError, JournalError) as e:
            log.error("%s", e)
            self.stop_reason = f"error: {e}"
            code = EXIT_RUNTIME
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
                await within(self._shutdown(), self.opts.stop_timeout)
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

    def _journal_failed(self, failure: str) -> None:
        """A journal write failed, so no new order can have its row first (bot/journal/store.py):
        entries pause at once (reason "journal"; the executor refuses every new order) and
        the daemon stops with exit code 1. Orders working at the broker stay there unless
        ``executor.cancel_on_stop``; a restart once the file is writable reconciles them
        and any fills from the broker."""
        if self.engine is not None:
            self.engine.risk.pause_entries(JOURNAL, f"{JOURNAL}: {failure}", now=self.clock.now(),
                                           transient=True)  # fmt: skip
        self.request_stop(f"error: {failure}")

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
        if self._make_ops is not None:
            self.ops = self._make_ops(cfg)  # its secrets are checked before anything connects
        if cfg.gateway is not None:
            await self._start_gateway()
        self.ib.errorEvent += self.farms.on_error  # IB reports each farm as it accepts us
        await self._connect()
        self.account = self._choose_account()
        if not self.dry_run:  # before anything else: no order may reach a real-money account
            check_account(self.account, mode=cfg.mode, live_flag=self.opts.live)
        self.clock.advance(await self.venue.current_time())
        path = dry_run_path(cfg.journal.path) if self.dry_run else cfg.journal.path
        self.journal = Journal(path)
        self.journal.failed_event += self._journal_failed
        # The embedded gateway is a new simulated world each run: nothing of earlier runs
        # (positions, order sequences, execIds) belongs to it. A real account continues its book.
        broker = broker_identity(self.account, embedded=self.gateway is not None)
        self.journal.begin_run(
            now=self.clock.now(), account=self.account, mode=cfg.mode, dry_run=self.dry_run,
            config=cfg.model_dump_json(), broker=broker,
        )  # fmt: skip
        self.infos = await qualify(cfg, self.venue)
        pacing = PacingGovernor.unlimited() if self.opts.lockstep else None
        # A dry run trades on the simulated broker, fed by the live prices: nothing is sent.
        orders_to = (
            DryRunBroker(self.account, self.clock.now)
            if self.dry_run
            else IbBroker(self.ib, self.journal.max_order_id())
        )
        self.recorder = rec = open_recorder(cfg.record)
        trader = Trader(
            cfg, venue=self.venue, broker=orders_to,
            make_feed=lambda on_bar, on_tick: Feed(
                self.ib, on_bar, on_tick, current_time=self.venue.current_time,
                max_data_lines=cfg.ib.max_data_lines, on_rt_bar=rec.rt_bar if rec else None,
                governor=HistoryGovernor(HistoryLimits().scaled(cfg.ib.history_pacing_scale)),
            ),
            journal=self.journal, infos=self.infos, clock=self.clock, heartbeat=self.ib,
            options=Options(self.account, self.dry_run, cfg.mode, self.opts.live, pacing),
            recorder=rec,
        )  # fmt: skip
        self.executor, self.engine, self.scans = trader.executor, trader.engine, trader.scans
        self.trader = trader
        self.feed = trader.feed  # type: ignore[assignment]
        await self.executor.reconcile(verify=trader.traded, reset=self.opts.reset_positions)
        assert self.feed is not None
        self.feed.lines.check(self.feed.wanted_lines())
        await self.feed.start()
        if not self.dry_run:
            self.ib_pnl = IbPnl(self.ib, self.infos)
            self.ib_pnl.subscribe(self.account)
            self.engine.ib_pnl = self.ib_pnl.daily
        # Operator kills not yet resumed hold again, before any strategy may send an order.
        self.control = OperatorControl(
            self.journal, kill=trader.kill, resume=trader.resume, now=self.clock.now,
            kill_file=cfg.risk.kill_file, known=lambda sid: sid in trader.engine.slots,
        )  # fmt: skip
        self.control.start()
        self._supervise()
        log.info(
            "live: account %s%s, %d symbols, %d strategies; warm-up %d bars",
            self.account, " (dry run: nothing is sent)" if self.dry_run else "",
            len(self.infos), len(self.engine.slots), self.feed.warmup_bars,
        )  # fmt: skip
        if self.opts.freeze_startup:
            gc.collect()
            gc.freeze()
        self.engine.start_strategies()
        if self.ops is not None:
            await self.ops.start(self)

    async def _start_gateway(self) -> None:
        from bot.gateway.embedded import start_embedded_gateway

        assert self.cfg.gateway is not None
        self.gateway = await start_embedded_gateway(
            self.cfg.gateway, end=self.opts.gateway_end, market=self.opts.gateway_market,
            event_time=self.opts.lockstep,
        )  # fmt: skip
        if self.opts.lockstep:
            self.ib.client.MaxRequests = 0  # ib_insync's own throttle runs on wall time
            self.gateway.driver.barrier = self._lockstep

    async def _lockstep(self) -> None:
        """Before each gateway step: start-up done, and two round trips. The first returns
        once the client has read all the last step sent (strategies answer synchronously, so
        their orders are on the socket by then); the second once the gateway has read them.
        Daily scans due at the gateway's time run here, to their end."""
        assert self.ready is not None
        await self.ready.wait()
        await self.venue.current_time()
        await self.venue.current_time()
        if self.scans:
            self.scans.observe(self.gateway.clock.now())
            for task in self.scans.running():
                await task

    def _address(self) -> str:
        if self.gateway is not None:
            return f"127.0.0.1:{self.gateway.port} (embedded gateway)"
        return f"{self.cfg.ib.host}:{self.cfg.ib.port}"

    async def _connect(self) -> None:
        """Connect with the configured client id, or (326) the next free of its tries."""
        ib_cfg = self.cfg.ib
        host, port = ib_cfg.host, ib_cfg.port
        if self.gateway is not None:
            host, port = "127.0.0.1", int(self.gateway.port)

        async def connect(client_id: int) -> None:
            await self.ib.connectAsync(
                host,
                port,
                clientId=client_id,
                timeout=ib_cfg.connect_timeout,
                readonly=ib_cfg.readonly or self.dry_run,
                account=ib_cfg.account or "",
            )

        self.client_id = await connect_with_client_ids(
            self.ib, connect, ib_cfg.client_id, ib_cfg.client_id_tries
        )
        log.info("connected to %s as client %d (%s)", self._address(), self.client_id, describe())

    def _supervise(self) -> None:
        """Hand the connection to the supervisor and the streams to the watchdog."""
        assert self.engine is not None and self.feed is not None
        ib_cfg, feed = self.cfg.ib, self.feed
        r, m = ib_cfg.reconnect, ib_cfg.maintenance
        window = None
        if m is not None:
            window = MaintenanceWindow(m.start_time, m.end_time, zone(m.timezone))
        self.supervisor = Supervisor(
            self, self.engine.risk, backoff=Backoff(r.initial, r.max, r.jitter), seed=r.seed,
            maintenance=window, now=wall_estimate(self.clock.now),
            journal_event=self.journal.record_event if self.journal else None, farms=self.farms,
        )  # fmt: skip
        self.ib.errorEvent -= self.farms.on_error
        w = ib_cfg.watchdog
        self.watchdog = StaleWatchdog(
            lambda: feed.streams, self.infos, self.engine.risk, feed.restart,
            WatchdogSettings(w.stale_bars, w.pause_after, w.poll),
        )  # fmt: skip
        self.ib.errorEvent += self.supervisor.on_error
        self.ib.disconnectedEvent += self.supervisor.on_disconnect
        self.supervisor.connected()

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

    # ---- trading ------------------------------------------------------------------------

    async def _trade(self) -> None:
        assert self._stop is not None
        loop = asyncio.get_running_loop()
        timers: list[asyncio.TimerHandle] = []
        if self.opts.duration is not None:
            timers.append(
                loop.call_later(self.opts.duration, self.request_stop, "--duration reached")
            )
        tasks = [
            asyncio.create_task(self._status_loop(), name="status"),
            asyncio.create_task(self._watch_loop(), name="watchdog"),
        ]
        if self.control is not None:
            tasks.append(asyncio.create_task(self.control.run(), name="operator-control"))
        if self.scans:
            assert self.feed is not None
            feed = self.feed
            feed.clock_listeners.append(self.scans.observe)
            if not self.opts.lockstep:  # in lockstep the gateway's steps start them
                scans = self.scans.run(idle=lambda: not feed.streams)
                tasks.append(asyncio.create_task(scans, name="scans"))
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

    async def _watch_loop(self) -> None:
        """Every few wall seconds: the server's time moves the clock, the maintenance window
        and the staleness watchdog."""
        assert self.supervisor is not None and self.watchdog is not None
        sup, dog = self.supervisor, self.watchdog
        while True:
            await asyncio.sleep(dog.settings.poll_s)
            if not self.ib.isConnected():
                continue
            try:
                now = await within(self.venue.current_time(), 10)
            except (TimeoutError, ConnectionError) as e:
                log.debug("no server time for the watchdog: %s", e)
                continue
            self.clock.advance(now)
            sup.tick(now)
            if sup.data_expected:
                try:
                    await dog.check(now)
                except (ConnectionError, TimeoutError) as e:  # the supervisor takes over
                    log.warning("resubscribing stale streams failed: %s", e or type(e).__name__)

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
        if self.ib_pnl is not None:
            self.ib_pnl.check(self.engine, self.clock.now())
        return status_line(self)

    # ---- what the supervisor asks (bot.live.supervisor.Hooks)
    # --------------------------------------

    async def resume(self) -> None:
        """After a socket loss: connect, re-qualify, reconcile (``resubscribe`` follows)."""
        assert self.feed is not None and self.executor is not None
        await self._connect()
        try:
            infos = await qualify(self.cfg, self.venue)
        except StartupError as e:
            raise FatalConnectionError(str(e)) from None
        for name, info in infos.items():
            if info.contract.conId != self.infos[name].contract.conId:
                raise FatalConnectionError(
                    f"{name} now qualifies to another contract (conId {info.contract.conId}, "
                    f"was {self.infos[name].contract.conId}): check universe.symbols"
                )
        await self.executor.reconcile()
        if self.journal is not None:
            self.journal.record_event("reconnect", f"as client {self.client_id}", self.clock.now())

    async def resubscribe(self) -> None:
        assert self.feed is not None
        self.feed.lines.check(self.feed.wanted_lines())
        await self.feed.start()
        if self.ib_pnl is not None:
            self.ib_pnl.subscribe(self.account)  # ib_insync dropped them with the connection

    async def restart_streams(self, ticks: bool) -> None:
        assert self.feed is not None
        await self.feed.restart(ticks=ticks)

    def stop(self, reason: str) -> None:
        self.request_stop(reason)

    def is_connected(self) -> bool:
        return self.ib.isConnected()

    def drop_connection(self) -> None:
        if self.ib.isConnected():
            assert self.supervisor is not None
            self.ib.disconnectedEvent -= self.supervisor.on_disconnect
            self.ib.disconnect()
            self.ib.disconnectedEvent += self.supervisor.on_disconnect
        if self.feed is not None:
            self.feed.stop()

    # ---- stopping -----------------------------------------------------------------------

    async def _shutdown(self) -> None:
        self._stopping = True
        self._remove_signals()
        if self.ops is not None:
            await self.ops.stop()
        if self.supervisor is not None:
            await self.supervisor.stop()
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
        if self.recorder is not None:
            self.recorder.close()  # writes what is buffered
        if self.executor is not None and connected and not self._refused:
            self.executor.shutdown()
        if self.engine is not None and self.feed is not None and not self._refused:
            if self.ib_pnl is not None:
                self.ib_pnl.check(self.engine, self.clock.now())
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
        with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
            loop.add_signal_handler(signal.SIGUSR1, self._sigusr1)

    def _remove_signals(self) -> None:
        if not self.opts.handle_signals:
            return
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.remove_signal_handler(sig)

    def _sigusr1(self) -> None:
        """SIGUSR1: the operator's kill of the account (once trading; ignored before)."""
        if self.trader is None or self.ready is None or not self.ready.is_set():
            log.warning("SIGUSR1 before start-up finished: use ibbot kill (the next start "
                        "honours it)")  # fmt: skip
            return
        self.trader.kill(None, "SIGUSR1")

    @property
    def uptime(self) -> float:
        return time.monotonic() - self._started_wall


def _utc(t: Any) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
