"""One simulated world: the market replay, its clock, the broker and the scanner.

Two front ends drive the same world and neither knows the other: ``bot/gateway`` serves it on
the TWS wire protocol (its driver calls ``step_to`` and streams what each step printed), and
the in-process backtester (``bot/backtest/inprocess.py``) steps it directly, with no socket.

A step (t0, t1] takes every tick in it, in time order, to the broker (which matches working
orders and marks positions), then lets time reach t1 (``SimBroker.on_time``: DAY expiries,
closing auctions, the daily roll). A backtest hands the broker only the ticks that can change
an order and lets time pass with ``pass_time``; the other instruments are marked at their last
prints, so the broker's books come out the same.

Both front ends step on one grid (``STEP``, the gateway's step): ``grid_floor`` /
``grid_ceil`` put an instant on it, so bars close and orders arrive at the same instants.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import datetime, timedelta
from typing import Protocol

from ib_insync import ContractDetails, ScannerSubscription

from bot.sim.broker import BrokerConfig, SimBroker
from bot.sim.broker_events import BrokerEvent
from bot.sim.clock import SimClock
from bot.sim.instruments import Instruments
from bot.sim.market import Market
from bot.sim.scanner import ScanRow, run_scan
from bot.sim.types import SimTick

MAX_CHUNK = timedelta(hours=1)  # a long advance is stepped in pieces of this
STEP = timedelta(seconds=5)  # the step grid: GatewayTuning.step's default, the backtest's step


def grid_floor(t: datetime, step: timedelta = STEP) -> datetime:
    """``t`` down to a multiple of ``step`` since the epoch."""
    return t - (t - datetime(1970, 1, 1, tzinfo=t.tzinfo)) % step


def grid_ceil(t: datetime, step: timedelta = STEP) -> datetime:
    """The first multiple of ``step`` since the epoch at or after ``t``."""
    floor = grid_floor(t, step)
    return t if floor == t else floor + step


class StepListener(Protocol):
    """What a front end does with a step: the broker's events and the ticks, as they come."""

    def on_events(self, events: list[BrokerEvent]) -> None: ...

    def on_tick(self, tick: SimTick) -> None: ...

    def before_time(self, t1: datetime) -> None:
        """Every tick of the step is in; time is about to reach ``t1``."""

    def after_step(self, t0: datetime, t1: datetime) -> None:
        """Time has reached ``t1``: the step is over."""


class SimWorld:
    """Market, clock, broker and scanner of one simulation (see module doc)."""

    def __init__(
        self,
        market: Market,
        clock: SimClock,
        broker_config: BrokerConfig | None = None,
    ) -> None:
        self.market = market
        self.instruments: Instruments = market.instruments
        self.clock = clock
        self.broker = SimBroker(self.instruments, broker_config, reference_price=self.last_price)
        self.stepped_to = clock.now()

    # ---- stepping -----------------------------------------------------------------------

    def step_to(
        self, target: datetime, listener: StepListener, *, match: bool = True, data: bool = True
    ) -> int:
        """Step from ``stepped_to`` to ``target`` in pieces of at most MAX_CHUNK; the ticks."""
        ticks = 0
        while self.stepped_to < target:
            t0 = self.stepped_to
            t1 = min(target, t0 + MAX_CHUNK)
            self.stepped_to = t1  # first: a step that fails is not replayed
            ticks += self.step(t0, t1, listener, match=match, data=data)
        return ticks

    def step(
        self,
        t0: datetime,
        t1: datetime,
        listener: StepListener,
        *,
        match: bool = True,
        data: bool = True,
    ) -> int:
        """One step over every instrument's ticks in (t0, t1]. ``match=False``: the broker
        does not see them (matching paused); ``data=False``: the listener does not."""
        on_tick, on_events, stream = self.broker.on_tick, listener.on_events, listener.on_tick
        n = 0
        for tick in self.market.ticks(t0, t1):
            if match:
                events = on_tick(tick)
                if events:
                    on_events(events)
            if data:
                stream(tick)
            n += 1
        listener.before_time(t1)
        on_events(self.broker.on_time(t1))
        listener.after_step(t0, t1)
        return n

    def pass_time(self, t1: datetime) -> list[BrokerEvent]:
        """Time reaches ``t1`` with every tick up to it given to the broker already (a
        backtest's step: ``SimBroker.on_time``); its events, in order."""
        self.stepped_to = max(self.stepped_to, t1)
        return self.broker.on_time(t1)

    def mark(self, marks: Iterable[tuple[int, float]]) -> None:
        """Bar closes of instruments whose ticks were skipped: their last prints."""
        for con_id, price in marks:
            self.broker.set_mark(con_id, price)

    # ---- what the front ends ask --------------------------------------------------------

    def last_price(self, con_id: int, now: datetime) -> float | None:
        """The market's last trade price at ``now`` (None: no data, or none yet)."""
        if not self.market.has_data(con_id):
            return None
        last = self.market.quote(con_id, now).last
        return None if math.isnan(last) else last

    def contract_details(self, contract: object) -> list[ContractDetails]:
        """reqContractDetails: every instrument matching ``contract`` (none: IB's error 200)."""
        now = self.clock.now()
        return [i.contract_details(now) for i in self.instruments.match(contract)]  # type: ignore[arg-type]

    def scan(self, sub: ScannerSubscription) -> list[ScanRow]:
        """One market scan at the world's time (raises bot.sim.scanner.ScanError)."""
        return run_scan(self.market, self.instruments, sub, self.clock.now())
