"""The market driver: steps the simulated clock and feeds the market through the gateway.

Each step takes every tick in (t0, t1], in time order, to the broker (matching) and to the
subscriptions, then the step's bars, held order acknowledgements, expiries, account pushes and
due faults, and ends with one socket write per client:

* ``speed=None``: manual; only ``await gateway.advance(dt)`` moves time (tests).
* ``speed=N>0``: N simulated seconds per wall second, stepped every ``tick_interval``.
* ``speed=0``: as fast as the connected clients drain (steps of ``step``, longer over time
  without ticks; paused while no client has a data subscription or a working order; stops at
  the end of the data, or at ``GatewayTuning.end``).

Lockstep (``MarketDriver.barrier``): an embedded gateway at ``speed=0`` (the daemon's, any
``RunOptions``, and ``ibbot backtest --engine gateway``) takes a step only once its client has
answered everything the last one sent, with wall-clock pacing off: no result then depends on
how fast the gateway and the client run. A standalone gateway cannot know when its clients
are done; at ``speed=0`` it only waits for their sockets to drain.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from bot.runtime.deadlines import within
from bot.sim.world import grid_floor

if TYPE_CHECKING:
    from bot.gateway.server import Gateway
    from bot.sim.broker_events import BrokerEvent
    from bot.sim.types import SimTick

log = logging.getLogger(__name__)

MAX_IDLE_STEP = timedelta(hours=1)  # as-fast mode: longest jump over time without ticks
DRAIN_TIMEOUT = 10.0  # seconds one step waits for slow clients before moving on
IDLE_POLL = 0.01  # as-fast mode: seconds between looks for work while idle


class MarketDriver:
    """Steps the gateway's world (bot/sim/world.py) and is its step listener: broker events
    go to the order desk, ticks and bars to the subscriptions, then one write per client."""

    def __init__(self, gw: Gateway) -> None:
        self.gw = gw
        self.end = min(gw.tuning.end or gw.market.last_time(), gw.market.last_time())
        self._idle_step = gw.tuning.step
        self._started = False  # as-fast mode: the first step was taken
        self.wake = asyncio.Event()  # clients or subscriptions changed
        # As-fast mode in lockstep (a backtest through the wire): awaited before every step,
        # so the embedding client has answered everything the last step sent (see RunOptions)
        self.barrier: Callable[[], Awaitable[None]] | None = None

    @property
    def stepped_to(self) -> datetime:
        return self.gw.world.stepped_to

    @property
    def finished(self) -> bool:
        return self.stepped_to >= self.end

    def step_to(self, target: datetime) -> int:
        gw = self.gw
        match = gw.faults.fill_while_disconnected or bool(gw.sessions)
        return gw.world.step_to(target, self, match=match, data=not gw.faults.data_stopped)

    # ---- the world's step listener --------------------------------------------------------

    def on_events(self, events: list[BrokerEvent]) -> None:
        if events:
            self.gw.desk.route(events)

    def on_tick(self, tick: SimTick) -> None:
        self.gw.streams.on_tick(tick)

    def before_time(self, t1: datetime) -> None:
        """The step's ticks are in: held acknowledgements due by t1 go out before expiries;
        after them (``SimBroker.on_time``, routed by the world) the step's bars and pushes."""
        self.gw.desk.release_held(t1)

    def after_step(self, t0: datetime, t1: datetime) -> None:
        gw = self.gw
        if not gw.faults.data_stopped:
            gw.streams.on_step(t0, t1)
        gw.desk.push_account_changes(t1)
        gw.feed.on_step(t1)
        gw.apply_faults(gw.faults.fire_due(t1))
        for session in gw.sessions.values():
            session.flush()

    async def drain(self) -> None:
        sessions = list(self.gw.sessions.values())
        if not sessions:
            return
        futures = [asyncio.ensure_future(s.drain()) for s in sessions]
        _, pending = await asyncio.wait(futures, timeout=DRAIN_TIMEOUT)
        if pending:
            log.warning("%d client(s) slow to take their data; moving on", len(pending))
            for p in pending:
                p.cancel()

    async def run(self) -> None:
        speed = self.gw.config.speed
        while True:
            try:
                if speed:
                    await asyncio.sleep(self.gw.tuning.tick_interval)
                    self.step_to(min(self.gw.clock.now(), self.end))
                    await self.gw.after_step()
                elif not await self._fast_step():
                    log.info("end of the market data at %s", self.end.isoformat())
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("market step failed; continuing")
                await asyncio.sleep(self.gw.tuning.tick_interval)

    async def _fast_step(self) -> bool:
        """As-fast mode: one step (longer over quiet time); wait while nobody listens."""
        if self.finished:
            return False
        if not self._has_work():
            while not self._has_work():
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await within(self.wake.wait(), IDLE_POLL)
            if not self._started and self.barrier is None:
                self._started = True
                await asyncio.sleep(self.gw.tuning.start_delay)
        if self.barrier is not None:
            await self.barrier()
        step = self._idle_step
        grid = self.gw.tuning.step
        # On the step grid: idle stretches of doubling length still end where a normal step
        # would, so bars close and orders arrive at the same instants whatever came before.
        target = grid_floor(self.stepped_to + step, grid)
        if target <= self.stepped_to:  # a start off the grid: reach the grid first
            target = grid_floor(self.stepped_to + grid, grid)
        target = min(target, self.end)
        self.gw.clock.advance(target - self.stepped_to)
        ticks = self.step_to(self.gw.clock.now())
        self._idle_step = self.gw.tuning.step if ticks else min(step * 2, MAX_IDLE_STEP)
        await self.gw.after_step()
        await asyncio.sleep(0)  # let the clients' requests in between steps
        return True

    def _has_work(self) -> bool:
        """Someone to step the market for: a client with a data subscription or a working
        order (a client still setting up does not miss the start), or a restart to sit out."""
        gw = self.gw
        if gw.faults.refusing(gw.clock.now()):
            return True
        if not gw.sessions:
            return False
        if self.barrier is not None:
            return True  # in lockstep the embedding client decides, step by step
        s = gw.streams
        if s.ticks or s.rt_bars or s.hist or s.scans:
            return True
        return any(gw.broker.open_orders(account) for account in gw.accounts)
