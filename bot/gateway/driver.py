"""The market driver: steps the simulated clock and feeds the market through the gateway.

Each step takes every tick in (t0, t1], in time order, to the broker (matching) and to the
subscriptions, then the step's bars, held order acknowledgements, expiries, account pushes and
due faults, and ends with one socket write per client:

* ``speed=None``: manual; only ``await gateway.advance(dt)`` moves time (tests).
* ``speed=N>0``: N simulated seconds per wall second, stepped every ``tick_interval``.
* ``speed=0``: as fast as the connected clients drain (steps of ``step``, longer over time
  without ticks; paused while no client has a data subscription or a working order; stops at
  the end of the data, or at ``GatewayConfig.end``).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.gateway.server import Gateway

log = logging.getLogger(__name__)

MAX_CHUNK = timedelta(hours=1)  # a long manual advance is stepped in pieces of this
MAX_IDLE_STEP = timedelta(hours=1)  # as-fast mode: longest jump over time without ticks
DRAIN_TIMEOUT = 10.0  # seconds one step waits for slow clients before moving on
IDLE_POLL = 0.01  # as-fast mode: seconds between looks for work while idle


class MarketDriver:
    def __init__(self, gw: Gateway, start: datetime) -> None:
        self.gw = gw
        self.stepped_to = start
        self.end = min(gw.config.end or gw.market.last_time(), gw.market.last_time())
        self._idle_step = gw.config.step
        self._started = False  # as-fast mode: the first step was taken
        self.wake = asyncio.Event()  # clients or subscriptions changed

    @property
    def finished(self) -> bool:
        return self.stepped_to >= self.end

    def step_to(self, target: datetime) -> int:
        ticks = 0
        while self.stepped_to < target:
            t0 = self.stepped_to
            t1 = min(target, t0 + MAX_CHUNK)
            self.stepped_to = t1  # first: a step that fails is not replayed
            ticks += self.step(t0, t1)
        return ticks

    def step(self, t0: datetime, t1: datetime) -> int:
        gw = self.gw
        faults = gw.faults
        data = not faults.data_stopped
        match = faults.fill_while_disconnected or bool(gw.sessions)
        on_tick, route, stream = gw.broker.on_tick, gw.desk.route, gw.streams.on_tick
        n = 0
        for tick in gw.market.ticks(t0, t1):
            if match:
                events = on_tick(tick)
                if events:
                    route(events)
            if data:
                stream(tick)
            n += 1
        gw.desk.release_held(t1)
        route(gw.broker.on_time(t1))
        if data:
            gw.streams.on_step(t0, t1)
        gw.desk.push_account_changes(t1)
        gw.feed.on_step(t1)
        gw.apply_faults(faults.fire_due(t1))
        for session in gw.sessions.values():
            session.flush()
        return n

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
                    await asyncio.sleep(self.gw.config.tick_interval)
                    self.step_to(min(self.gw.clock.now(), self.end))
                    await self.gw.after_step()
                elif not await self._fast_step():
                    log.info("end of the market data at %s", self.end.isoformat())
                    return
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("market step failed; continuing")
                await asyncio.sleep(self.gw.config.tick_interval)

    async def _fast_step(self) -> bool:
        """As-fast mode: one step (longer over quiet time); wait while nobody listens."""
        if self.finished:
            return False
        if not self._has_work():
            while not self._has_work():
                self.wake.clear()
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self.wake.wait(), IDLE_POLL)
            if not self._started:
                self._started = True
                await asyncio.sleep(self.gw.config.start_delay)
        step = self._idle_step
        self.gw.clock.advance(min(step, self.end - self.stepped_to))
        ticks = self.step_to(self.gw.clock.now())
        self._idle_step = self.gw.config.step if ticks else min(step * 2, MAX_IDLE_STEP)
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
        s = gw.streams
        if s.ticks or s.rt_bars or s.hist or s.scans:
            return True
        return any(gw.broker.open_orders(account) for account in gw.accounts)
