"""The daemon's life: connect, qualify, warm up, trade, stop; and reconnect in between.

``Daemon(cfg, options).run()`` is ``ibbot run``: it starts the embedded simulated gateway when
the config has one, connects ib_insync, checks the paper/live guard, qualifies the universe,
builds the risk stage, executor, strategies and feed (``bot/trading/kernel.py`` wires them;
bot/live/startup.py), reconciles with IB, warms up, calls ``on_start`` and trades until a signal
(bot/live/signals.py), ``--duration``, the end of the embedded gateway's data
(bot/live/replay.py), or a fatal error. Stopping takes well under 5 s (bot/live/shutdown.py):
``on_stop``, unsubscribe, cancel working orders if ``executor.cancel_on_stop``, flush the
journal, disconnect, summary.

Strategies with a ``scanner`` get their symbols each trading day from a market scan
(``bot/trading/daily_scan.py``): the scanned contracts are qualified here, then
``Router.set_symbols`` and ``Feed.start_streams`` subscribe and warm them up.

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
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from bot.client.ib import new_ib
from bot.config.bot_config import BotConfig
from bot.config.gateway import GatewaySettings
from bot.journal.store import Journal, JournalError
from bot.live.connection import address, choose_account, connect
from bot.live.ib_pnl import IbPnl
from bot.live.replay import Lockstep, watch_replay
from bot.live.shutdown import shut_down
from bot.live.signals import Signals
from bot.live.startup import build_trader, open_journal, supervise
from bot.live.status_line import status_line
from bot.live.supervisor import (
    FarmStates,
    FatalConnectionError,
    Supervisor,
)
from bot.live.watchdog import StaleWatchdog
from bot.market_data.data_lines import DataLinesExceeded
from bot.market_data.ib_feed import Feed
from bot.market_data.recorder import Recorder, open_recorder
from bot.orders.executor import OrderExecutor
from bot.orders.guard import GuardError, check_account
from bot.portfolio.positions import PositionMismatchError
from bot.risk.kill_switch import OperatorControl
from bot.runtime.deadlines import within
from bot.strategy.context import SymbolInfo
from bot.trading.daily_scan import DailyScans
from bot.trading.kernel import StartupError, Trader, qualify
from bot.trading.router import Clock, Router
from bot.trading.slots import TickKindConflict
from bot.venues.ib import IbVenue

if TYPE_CHECKING:  # loaded only with the embedded gateway
    from bot.sim.market import Market

log = logging.getLogger(__name__)

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

    def for_gateway(self, g: GatewaySettings | None) -> RunOptions:
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
        self.router: Router | None = None
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
        self.supervisor: Supervisor | None = None
        self.farms = FarmStates()  # heard from the connect on; the supervisor's once it runs
        self.watchdog: StaleWatchdog | None = None
        self.client_id = cfg.ib.client_id  # the one connected (326: a later one)
        self.refused = False  # refused at start-up: send nothing, not even cancels
        self._started_wall = time.monotonic()
        self.ops: OpsPort | None = None  # metrics, health, status, control, notifications
        self.recorder: Recorder | None = None  # record: (bot/market_data/recorder.py)
        self.signals = Signals(self.request_stop, self._kill_account) if \
            self.opts.handle_signals else None  # fmt: skip

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
            self.refused = True
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
                address(self.cfg.ib, self.gateway),
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
                await within(shut_down(self), self.opts.stop_timeout)
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
        if self.router is not None:
            self.router.risk.pause_entries(JOURNAL, f"{JOURNAL}: {failure}", now=self.clock.now(),
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
        if self.signals is not None:
            self.signals.install()
        if self._make_ops is not None:
            self.ops = self._make_ops(cfg)  # its secrets are checked before anything connects
        if cfg.gateway is not None:
            await self._start_gateway()
        self.ib.errorEvent += self.farms.on_error  # IB reports each farm as it accepts us
        await self._connect()
        self.account = choose_account(self.ib, cfg.ib.account)
        if not self.dry_run:  # before anything else: no order may reach a real-money account
            check_account(self.account, mode=cfg.mode, live_flag=self.opts.live)
        self.clock.advance(await self.venue.current_time())
        self.journal = open_journal(self)
        self.journal.failed_event += self._journal_failed
        self.infos = await qualify(cfg, self.venue)
        if not self.dry_run:  # subscribed once the feed runs
            self.ib_pnl = IbPnl(self.ib, self.infos)
        self.recorder = open_recorder(cfg.record)
        self.trader = trader = build_trader(self, self.journal, self.recorder)
        self.executor, self.router, self.scans = trader.executor, trader.router, trader.scans
        self.feed = trader.feed  # type: ignore[assignment]
        await self.executor.reconcile(verify=trader.traded, reset=self.opts.reset_positions)
        assert self.feed is not None
        self.feed.lines.check(self.feed.wanted_lines())
        await self.feed.start()
        if self.ib_pnl is not None:
            self.ib_pnl.subscribe(self.account)
        # Operator kills not yet resumed hold again, before any strategy may send an order.
        self.control = OperatorControl(
            self.journal, kill=trader.kill, resume=trader.resume, now=self.clock.now,
            kill_file=cfg.risk.kill_file, known=lambda sid: sid in trader.router.slots,
        )  # fmt: skip
        self.control.start()
        self.supervisor, self.watchdog = supervise(self)
        self.supervisor.connected()
        log.info(
            "live: account %s%s, %d symbols, %d strategies; warm-up %d bars",
            self.account, " (dry run: nothing is sent)" if self.dry_run else "",
            len(self.infos), len(self.router.slots), self.feed.warmup_bars,
        )  # fmt: skip
        if self.opts.freeze_startup:
            gc.collect()
            gc.freeze()
        self.router.start_strategies()
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
            assert self.ready is not None
            self.gateway.driver.barrier = Lockstep(self.ready, self.venue, self.gateway,
                                                   lambda: self.scans)  # fmt: skip

    async def _connect(self) -> None:
        readonly = self.cfg.ib.readonly or self.dry_run
        self.client_id = await connect(self.ib, self.cfg.ib, self.gateway, readonly=readonly)

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
            assert self.feed is not None
            watch = watch_replay(self.gateway, self.feed, self.opts.gateway_end,
                                 self.request_stop)  # fmt: skip
            tasks.append(asyncio.create_task(watch, name="gateway-watch"))
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

    def status(self) -> str:
        assert self.router is not None and self.feed is not None
        if self.ib_pnl is not None:
            self.ib_pnl.check(self.router, self.clock.now())
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

    def _kill_account(self, reason: str) -> bool:
        """The operator's kill of the account (SIGUSR1); False before trading started."""
        if self.trader is None or self.ready is None or not self.ready.is_set():
            return False
        self.trader.kill(None, reason)
        return True

    @property
    def uptime(self) -> float:
        return time.monotonic() - self._started_wall

