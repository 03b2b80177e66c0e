"""Fill rules of the simulated broker: pure functions of one order and one SimTick.

The gateway and the in-process backtester both fill through this module, so a strategy sees
the same fills in both. The rules, quoted by the README:

Fill rules
----------
- Orders are matched against the market's ticks (trade price ``last`` with its size, and the
  quote ``bid``/``ask`` around it), never against the price seen when the order was placed:
  an order fills at the earliest on the first tick after it arrives.
- Market (MKT): fills at that tick's ask (buy) or bid (sell), moved by the configured
  ``slippage_ticks`` against the order, rounded to the instrument's minimum tick.
- Limit (LMT): if marketable on arrival (the first tick it meets has ask <= limit for a buy,
  bid >= limit for a sell) it fills at that better quote, slippage capped at the limit.
  Otherwise it rests, and fills at the limit price when the market trades through it: a last
  price strictly beyond the limit (below it for a buy, above for a sell), or the quote crossing
  it (ask <= limit for a buy, bid >= limit for a sell). A buy never fills above its limit, a
  sell never below.
- Stop (STP) and stop-limit (STP LMT): trigger on the trade price, when last >= stop (buy) or
  last <= stop (sell). A triggered STP is a market order on that same tick, so a gap through
  the stop fills at the gap price (that tick's quote, i.e. the bar open), never at the stop.
  A triggered STP LMT becomes a limit order arriving on that tick (marketable-on-arrival rule).
- Trailing stop (TRAIL): a stop whose level starts at ``trailStopPrice`` (or last -/+ the trail
  on the first tick) and follows the trade price by ``auxPrice`` (amount) or
  ``trailingPercent``, only in the favourable direction (up for a sell, down for a buy); it
  triggers and fills like STP. Each tick first checks the trigger, then ratchets.
- Market-if-touched (MIT): triggers when last <= trigger (buy) or last >= trigger (sell), then
  fills like MKT on that tick.
- Market/limit-on-close (MOC/LOC): fill at the session's closing trade price (the last trade at
  or before the close of the instrument's liquid hours); LOC only if that price is at or better
  than its limit; otherwise it is cancelled. The closing auction has no size cap.
- Quantity: each tick fills at most ``floor(participation x last_size)`` of an order
  (``participation`` None = the whole remaining quantity), so a large order fills in several
  executions. Each order gets its own cap; orders on one tick are matched in arrival order.
- Time in force: DAY expires at the session close (outside-RTH stock orders: at midnight,
  exchange time), GTC never; IOC fills what the first tick allows and cancels the rest; FOK
  fills completely on its first tick or is cancelled.
- Without ``outsideRth`` an order is held (PreSubmitted) while the instrument is outside its
  liquid hours, and works from the first tick inside them. A tick stands for the trading
  just before its time stamp, so the session counts as (open, close]: the print at exactly
  09:30:00 closes the pre-market's last bar, the one at 16:00:00 the session's last bar.
- All fill prices are rounded to the instrument's minimum tick.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from bot.model.order_prices import AT_THE_CLOSE, TRIGGER_PRICED
from bot.model.price_grid import Rounding, round_to_tick
from bot.sim.types import SimTick

#: Order types the matching engine understands.
SUPPORTED_TYPES = frozenset({"MKT", "LMT", "STP", "STP LMT", "TRAIL", "MIT", "MOC", "LOC"})
STOP_TYPES = frozenset({"STP", "STP LMT", "TRAIL", "MIT"})
CLOSE_TYPES = AT_THE_CLOSE

_EPS = 1e-9


@dataclass(frozen=True, slots=True)
class Terms:
    """What the fill rules need of an order; ``side`` is +1 for a buy, -1 for a sell."""

    side: int
    order_type: str
    limit: float | None = None
    stop: float | None = None  # STP / STP LMT / MIT trigger
    trail_amount: float | None = None
    trail_percent: float | None = None


@dataclass(frozen=True, slots=True)
class MatchState:
    """The part of an order that moves with the market."""

    fresh: bool = True  # not yet met a tick since it arrived (or was modified)
    triggered: bool = False
    trail_stop: float | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    state: MatchState
    price: float | None  # fill price on this tick, None = no fill


def market_price(side: int, tick: SimTick, min_tick: float, slippage_ticks: float) -> float:
    """Price of a market fill on ``tick``: the far side of the quote plus slippage."""
    base = tick.ask if side > 0 else tick.bid
    worse: Rounding = "up" if side > 0 else "down"  # rounded against the order
    return round_to_tick(base + side * slippage_ticks * min_tick, min_tick, worse)


def stop_triggered(side: int, stop: float, last: float) -> bool:
    return last >= stop - _EPS if side > 0 else last <= stop + _EPS


def touched(side: int, trigger: float, last: float) -> bool:
    """MIT: the trade price reached the trigger from the favourable side."""
    return last <= trigger + _EPS if side > 0 else last >= trigger - _EPS


def limit_price_fill(
    side: int,
    limit: float,
    tick: SimTick,
    *,
    on_arrival: bool,
    min_tick: float,
    slippage_ticks: float,
) -> float | None:
    """Fill price of a limit order on ``tick`` (None: no fill), per the rules above."""
    quote = tick.ask if side > 0 else tick.bid
    crossed = quote <= limit + _EPS if side > 0 else quote >= limit - _EPS
    if on_arrival and crossed:
        price = market_price(side, tick, min_tick, slippage_ticks)
        return min(price, limit) if side > 0 else max(price, limit)
    traded_through = tick.last < limit - _EPS if side > 0 else tick.last > limit + _EPS
    if crossed or traded_through:
        return limit
    return None


def trail_offset(terms: Terms, last: float) -> float:
    if terms.trail_percent is not None:
        return last * terms.trail_percent / 100.0
    return terms.trail_amount or 0.0


def ratchet(terms: Terms, stop: float | None, last: float, min_tick: float) -> float:
    """The trailing stop after a trade at ``last``: it only moves in the order's favour."""
    candidate = round_to_tick(last + terms.side * trail_offset(terms, last), min_tick)
    if stop is None:
        return candidate
    return min(stop, candidate) if terms.side > 0 else max(stop, candidate)


def decide(
    terms: Terms, state: MatchState, tick: SimTick, min_tick: float, slippage_ticks: float
) -> Decision:
    """Apply the fill rules of a working order to one tick (MOC/LOC excluded: see close_fill)."""
    kind = terms.order_type
    after = MatchState(fresh=False, triggered=state.triggered, trail_stop=state.trail_stop)
    if kind == "MKT":
        return Decision(after, market_price(terms.side, tick, min_tick, slippage_ticks))
    if kind == "LMT":
        assert terms.limit is not None
        price = limit_price_fill(
            terms.side,
            terms.limit,
            tick,
            on_arrival=state.fresh,
            min_tick=min_tick,
            slippage_ticks=slippage_ticks,
        )
        return Decision(after, price)
    if kind == "TRAIL":
        return _decide_trail(terms, after, tick, min_tick, slippage_ticks)
    if kind in TRIGGER_PRICED:
        return _decide_triggered(terms, state, tick, min_tick, slippage_ticks)
    return Decision(after, None)


def _decide_triggered(
    terms: Terms, state: MatchState, tick: SimTick, min_tick: float, slippage_ticks: float
) -> Decision:
    assert terms.stop is not None
    just_now = False
    fresh = state.fresh  # a modified, already triggered STP LMT arrives anew
    state = MatchState(fresh=False, triggered=state.triggered, trail_stop=state.trail_stop)
    if not state.triggered:
        check = touched if terms.order_type == "MIT" else stop_triggered
        if not check(terms.side, terms.stop, tick.last):
            return Decision(state, None)
        state = MatchState(fresh=False, triggered=True, trail_stop=state.trail_stop)
        just_now = True
    if terms.order_type == "STP LMT":
        assert terms.limit is not None
        price = limit_price_fill(
            terms.side,
            terms.limit,
            tick,
            on_arrival=just_now or fresh,
            min_tick=min_tick,
            slippage_ticks=slippage_ticks,
        )
        return Decision(state, price)
    return Decision(state, market_price(terms.side, tick, min_tick, slippage_ticks))


def _decide_trail(
    terms: Terms, state: MatchState, tick: SimTick, min_tick: float, slippage_ticks: float
) -> Decision:
    stop = state.trail_stop
    if stop is None:
        stop = ratchet(terms, None, tick.last, min_tick)
    if state.triggered or stop_triggered(terms.side, stop, tick.last):
        fired = MatchState(fresh=False, triggered=True, trail_stop=stop)
        return Decision(fired, market_price(terms.side, tick, min_tick, slippage_ticks))
    moved = MatchState(
        fresh=False, triggered=False, trail_stop=ratchet(terms, stop, tick.last, min_tick)
    )
    return Decision(moved, None)


def close_fill(terms: Terms, close_price: float) -> float | None:
    """MOC fills at the closing price; LOC only if the close is at or better than its limit."""
    if terms.order_type == "MOC":
        return close_price
    assert terms.limit is not None
    ok = close_price <= terms.limit + _EPS if terms.side > 0 else close_price >= terms.limit - _EPS
    return close_price if ok else None


def fill_quantity(remaining: float, tick_size: float, participation: float | None) -> float:
    """How much of ``remaining`` one tick can fill under the participation cap."""
    if participation is None:
        return remaining
    cap = math.floor(participation * max(tick_size, 0.0) + 1e-9)
    return float(min(remaining, cap))
