"""Dry-run matching: the executor's resting orders against the prices it learns.

In a dry run nothing reaches IB, so the executor fills its own orders. Market orders fill at
the reference price (bot/executor.py); everything else is matched here, through the fill
rules of the simulated broker (bot/sim/matching.py), so a dry run fills what a paper run
against the simulated gateway would, as far as bars allow:

- each price becomes one SimTick whose trade and quote are that price (no spread, so a limit
  fills at its limit once the price reaches or crosses it, and a triggered stop fills at the
  price that triggered it: a gap through the stop fills at the gap price);
- a bar becomes the path open, low, high, close (open, high, low, close when it closes below
  its open), so an intrabar touch triggers;
- quantity: whole fills (no participation cap); MOC/LOC and time in force are not simulated.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from ib_insync import Order

from bot.sim.matching import MatchState, decide
from bot.sim.orders import arrival_state, modified_state, terms_of
from bot.sim.types import SimTick

#: Order types matched on prices here (MKT fills at the reference price; MOC/LOC never fill).
MATCHED_TYPES = frozenset({"LMT", "STP", "STP LMT", "TRAIL", "MIT"})


def bar_path(open_: float, high: float, low: float, close: float) -> list[float]:
    """The prices a bar stands for, in the order they are matched (repeats dropped)."""
    extremes = (low, high) if close >= open_ else (high, low)
    path: list[float] = []
    for p in (open_, *extremes, close):
        if p == p and p > 0 and (not path or p != path[-1]):  # skip NaN and repeats
            path.append(p)
    return path


def price_tick(price: float, time: datetime, con_id: int) -> SimTick:
    """A trade at ``price`` with the quote at that same price (a bar has no spread)."""
    return SimTick(time, con_id, price, 0.0, price, price, 0.0, 0.0)


class DryMatcher:
    """Per-order match state (MatchState) and arrival time, keyed by the dry order id."""

    def __init__(self) -> None:
        self._states: dict[int, MatchState] = {}
        self._arrived: dict[int, datetime] = {}

    def accepted(self, order: Order, now: datetime) -> None:
        self._arrived[order.orderId] = now
        self._states[order.orderId] = arrival_state(order)

    def modified(self, order: Order, trail_changed: bool) -> None:
        """A changed order arrives anew (the marketable-on-arrival rule applies again)."""
        old = self._states.get(order.orderId, MatchState())
        self._states[order.orderId] = modified_state(old, order, trail_changed)

    def arrived_before(self, order_id: int, time: datetime) -> bool:
        arrived = self._arrived.get(order_id)
        return arrived is None or arrived < time

    def match(self, order: Order, tick: SimTick, min_tick: float) -> float | None:
        """The fill price of ``order`` on ``tick`` (None: no fill); its state moves on."""
        oid = order.orderId
        state = self._states.get(oid) or arrival_state(order)
        decision = decide(terms_of(order), state, tick, min_tick, 0.0)
        self._states[oid] = decision.state
        return decision.price

    def forget(self, order_ids: Iterable[int]) -> None:
        for oid in order_ids:
            self._states.pop(oid, None)
            self._arrived.pop(oid, None)

    def tracked(self) -> list[int]:
        return list(self._states)
