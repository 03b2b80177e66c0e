"""The simulated IB Gateway: a loopback TCP server speaking the TWS API on top of bot/sim.

The Gateway is a front end of one simulated world (bot/sim/world.py: market, clock, broker,
scanner); it owns the client registry, the pacing books and the fault state, and its
MarketDriver (bot/gateway/driver.py) steps the world and streams what each step printed.
``gateway.fault(action, **args)`` is the fault control handle for tests (the actions
of bot/gateway/faults.py); ``GatewaySettings.faults`` (a file) or ``GatewayTuning.fault_plan`` (a
plan) schedules one at simulated times.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.config.gateway import GatewaySettings
from bot.gateway.accounts import AccountFeed
from bot.gateway.driver import MarketDriver
from bot.gateway.faults import (
    CloseClients,
    DropMarketData,
    DropOrders,
    Effect,
    FaultPlan,
    FaultState,
    FaultStep,
    Notice,
)
from bot.gateway.orders import OrderDesk
from bot.gateway.pacing_rules import HistoricalPacer, MessageRate, PacingLimits
from bot.gateway.peer import Peer
from bot.gateway.session import Session
from bot.gateway.streams import Streams
from bot.gateway.wire import MAX_FRAME, check_pinned
from bot.sim.clock import SimClock
from bot.sim.instruments import Instruments
from bot.sim.market import Market
from bot.sim.world import STEP, SimWorld

log = logging.getLogger(__name__)

WARMUP_DAYS = 6  # the default start: the session open of the data's 6th trading day


@dataclass(frozen=True)
class GatewayTuning:
    """What code (tests, benches, the embedded gateway) sets beside the settings."""

    end: datetime | None = None  # stop the market there (None = at the end of the data)
    time_zone: str = "US/Eastern"  # the "TWS login time zone" of formatted times
    step: timedelta = STEP  # as-fast mode: simulated time per step
    # as-fast mode: wall seconds between the first subscription and the first step, so that a
    # client's other start-up requests (ib_insync throttles to 45 a second) are in by then
    start_delay: float = 1.0
    tick_interval: float = 0.1  # paced mode: wall seconds between steps
    max_frame: int = MAX_FRAME
    # Historical data rules (162/322) other than IB's (a bench's scaled ones); None: IB's,
    # on unless the settings turn pacing off.
    pacing: PacingLimits | None = None
    max_message_rate: int = 50  # messages a second from one client before error 100; 0 = off
    fault_plan: FaultPlan | None = None  # a plan built in code, instead of the settings' file


class Gateway:
    def __init__(
        self,
        config: GatewaySettings,
        tuning: GatewayTuning | None = None,
        *,
        instruments: Instruments | None = None,
        market: Market | None = None,
    ) -> None:
        check_pinned(config.server_version)
        self.config = config
        self.tuning = tuning = tuning or GatewayTuning()
        self.instruments = instruments or Instruments.load(config.instruments)
        market = market or Market.load(
            config.data, self.instruments, config.seed, config.bar_seconds
        )
        start = config.start or default_start(market, self.instruments)
        self.world = SimWorld(market, SimClock(start, config.speed), config.broker)
        w = self.world
        self.market, self.broker, self.clock = w.market, w.broker, w.clock
        self.broker.open_account(config.account, config.cash)
        self.accounts = [config.account]
        self.tz = ZoneInfo(tuning.time_zone)
        file = config.faults
        plan = tuning.fault_plan or (FaultPlan.load(file) if file is not None else None)
        self.faults = FaultState(plan, start)
        self.pacer = HistoricalPacer(tuning.pacing or PacingLimits(enabled=config.pacing))
        rate = tuning.max_message_rate if config.pacing else 0
        self.message_rate = MessageRate(max(rate, 1), enabled=rate > 0)
        self.wall = time.monotonic  # the pacing rules' clock (wall time, as at IB)
        self.streams = Streams(self.market, self.tz)
        self.feed = AccountFeed(self.broker, self.tz)
        self.desk = OrderDesk(self.broker, self.feed, self.tz, self.peer_of, self.faults)
        self.driver = MarketDriver(self)
        self.sessions: dict[int, Session] = {}  # by clientId, once startApi is accepted
        self._connections: set[Session] = set()
        self._server: asyncio.Server | None = None
        self._bound_port = config.port
        self._driver_task: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopped = asyncio.Event()

    # ---- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        await self.listen()
        log.info(
            "simulated IB Gateway listening on %s:%d, clock %s at speed %s",
            self.config.host,
            self.port,
            self.clock.now().isoformat(),
            "manual" if self.config.speed is None else self.config.speed,
        )
        if self.config.speed is not None:
            self._driver_task = asyncio.create_task(self.driver.run(), name="gateway-driver")

    async def listen(self) -> None:
        """Accept connections (again, after a simulated restart: on the same port)."""
        if self._server is not None and self._server.is_serving():
            return
        self._server = await asyncio.start_server(
            self._on_connect, self.config.host, self._bound_port, limit=1 << 20
        )
        self._bound_port = int(self._server.sockets[0].getsockname()[1])

    def stop_listening(self) -> None:
        if self._server is not None:
            self._server.close()

    @property
    def port(self) -> int:
        return self._bound_port

    @property
    def finished(self) -> bool:
        """The replay reached the end of the data (or ``GatewayTuning.end``)."""
        return self.driver.finished

    async def stop(self) -> None:
        self.stop_listening()
        if self._driver_task is not None:
            self._driver_task.cancel()
            await asyncio.gather(self._driver_task, return_exceptions=True)
        for session in list(self._connections):
            session.close()
        if self._tasks:
            await asyncio.gather(*self._tasks, return_exceptions=True)
        if self._server is not None:
            await self._server.wait_closed()
        self._stopped.set()
        log.info("simulated IB Gateway stopped")

    async def run_forever(self) -> None:
        """Serve until ``stop()`` is called."""
        if self._server is None:
            await self.start()
        await self._stopped.wait()

    # ---- clients ------------------------------------------------------------------------

    async def _on_connect(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        session = Session(self, reader, writer)
        self._connections.add(session)
        task = asyncio.current_task()
        if task is not None:
            self._tasks.add(task)
        try:
            await session.run()
        finally:
            self._connections.discard(session)
            if task is not None:
                self._tasks.discard(task)

    def connections(self) -> list[Session]:
        return list(self._connections)

    def register(self, session: Session, client_id: int) -> bool:
        """Claim a clientId; False when a live connection already holds it (error 326)."""
        if client_id in self.sessions:
            return False
        self.sessions[client_id] = session
        self.driver.wake.set()
        return True

    def unregister(self, session: Session) -> None:
        if self.sessions.get(session.client_id) is session:
            del self.sessions[session.client_id]
            self.pacer.drop_client(session.client_id)
            self.message_rate.drop_client(session.client_id)
            self.driver.wake.set()
        self.streams.drop(session)
        self.feed.drop(session)

    def peer_of(self, client_id: int) -> Peer | None:
        return self.sessions.get(client_id)

    def next_valid_id(self, account: str, client_id: int) -> int:
        """nextValidId for a client, less a rollback fault if one is pending."""
        return self.faults.next_valid_id(self.desk.next_valid_id(account, client_id))

    def after_requests(self) -> None:
        """After a batch of requests: push what their executions changed (none yet, usually)."""
        self.desk.push_account_changes(self.clock.now())

    def broadcast_error(self, code: int, text: str) -> None:
        """An error/notice to every client, e.g. 1102 (connectivity restored)."""
        for session in self.sessions.values():
            session.error(-1, code, text)
            session.flush()

    # ---- faults -------------------------------------------------------------------------

    def fault(self, action: str, /, **args: object) -> None:
        """Fire a fault now (the actions of bot/gateway/faults.py, e.g. ``fault("restart",
        seconds=30)``, ``fault("connectivity_restored", data="lost")``)."""
        step = FaultStep.make(action, **args)
        self.apply_faults(self.faults.apply(step, self.clock.now()))

    def apply_faults(self, effects: list[Effect]) -> None:
        for effect in effects:
            if isinstance(effect, Notice):
                self.broadcast_error(effect.code, effect.text)
            elif isinstance(effect, CloseClients):
                if self.faults.refusing(self.clock.now()):
                    self.stop_listening()
                for session in self.connections():
                    session.close()
            elif isinstance(effect, DropOrders):
                now = self.clock.now()
                for account in self.accounts:
                    self.broker.global_cancel(account, now)  # nobody is told: they are gone
            elif isinstance(effect, DropMarketData):
                self.streams.clear()
                for client_id in self.sessions:
                    self.pacer.drop_client(client_id)  # their keepUpToDate requests ended

    # ---- market -------------------------------------------------------------------------

    async def advance(self, dt: timedelta) -> None:
        """Move the clock by ``dt`` and step the market through it; returns once every
        client's output has been handed to the socket."""
        self.clock.advance(dt)
        self.driver.step_to(self.clock.now())
        await self.after_step()

    async def after_step(self) -> None:
        """Serve again once a simulated restart is over; let the clients drain."""
        if not self.faults.refusing(self.clock.now()) and not self._serving():
            await self.listen()
        await self.driver.drain()

    def _serving(self) -> bool:
        return self._server is not None and self._server.is_serving()


def default_start(market: Market, instruments: Instruments) -> datetime:
    """The regular-session open of the data's ``WARMUP_DAYS``-th trading day (enough history
    for indicators to warm up), judged on the first stock with data."""
    con_ids = market.con_ids()
    stocks = [c for c in con_ids if instruments.by_con_id(c).sec_type == "STK"] or con_ids
    inst = instruments.by_con_id(stocks[0])
    first, last = market.history.head_timestamp(inst.con_id, "TRADES", True), market.last_time()
    opens: list[datetime] = []
    day = first.astimezone(inst.tz).date()
    while day <= last.date() and len(opens) < WARMUP_DAYS:
        t = inst.session_open(day)
        if t is not None and first <= t < last:
            opens.append(t)
        day += timedelta(days=1)
    return opens[-1] if opens else first


async def serve(config: GatewaySettings, ready: asyncio.Event | None = None) -> None:
    """Run a gateway until SIGINT/SIGTERM (``ibbot gateway``); ``ready`` is set once it listens."""
    gw = Gateway(config)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.add_signal_handler(sig, stop.set)
    await gw.start()
    first, last = gw.market.first_time(), gw.market.last_time()
    log.warning(
        "prices are SYNTHETIC: replayed from %s (%s .. %s) with simulated ticks, quotes and "
        "fills; this is not market data",
        config.data,
        first.date(),
        last.date(),
    )
    if ready is not None:
        ready.set()
    try:
        await stop.wait()
    finally:
        log.info("stopping")
        await gw.stop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(sig)
