"""Ticks from ib_insync items, checked before they reach the strategies."""

from __future__ import annotations

import math
from dataclasses import replace
from datetime import UTC, datetime, timedelta

from bot.client.ib import TickByTickAllLast, TickByTickBidAsk, TickByTickMidPoint, Ticker
from bot.market_data.streams import StreamBook
from bot.model.events import Tick

TbtItem = TickByTickAllLast | TickByTickBidAsk | TickByTickMidPoint


class TickFilter:
    """Drops (and counts in the book's quality log) bad, out-of-order and repeated ticks;
    keeps the book's last prices."""

    def __init__(self, book: StreamBook, tick_skew: timedelta) -> None:
        self.book = book
        self.tick_skew = tick_skew
        self._last_tick: dict[str, Tick] = {}

    def tick_of(self, symbol: str, ticker: Ticker) -> Tick | None:
        """The ticker's state as a Tick, or None (dropped and counted) if it is bad or stale."""
        t = _tick_time(ticker)
        if t is None:
            self.book.quality.drop(symbol, "no-time", "tick")
            return None
        tick = Tick(symbol, t, _price(ticker.bid), _price(ticker.ask), _price(ticker.last),
                    _price(ticker.bidSize), _price(ticker.askSize),
                    _price(ticker.lastSize))  # fmt: skip
        return self.checked(tick, trade=False)

    def checked(self, tick: Tick, *, trade: bool) -> Tick | None:
        """``tick`` on the market clock, or None (dropped and counted) if it is bad or stale;
        ``trade``: a tick-by-tick trade print, where an identical one is another real trade."""
        book = self.book
        symbol, t, clock = tick.symbol, tick.time, book.clock
        if clock is not None and abs(t - clock) > self.tick_skew:
            # Ticks carry no time of their own, only their arrival (wall clock). When that
            # disagrees with the market's clock (a replay at 400x), the market's clock wins.
            t = clock
            tick = replace(tick, time=t)
        prices = (tick.bid, tick.ask, tick.last, tick.midpoint)
        if all(math.isnan(p) for p in prices):
            book.quality.drop(symbol, "nan", "tick")
            return None
        if any(p <= 0 for p in prices):  # NaN compares False: only real bad values
            book.quality.drop(symbol, "non-positive", "tick")
            return None
        prev = self._last_tick.get(symbol)
        if prev is not None:
            if t < prev.time:
                book.quality.drop(symbol, "out-of-order", "tick")
                return None
            if not trade and _same_tick(tick, prev):
                book.quality.drop(symbol, "duplicate", "tick")
                return None
        self._last_tick[symbol] = tick
        if not math.isnan(tick.last):
            book.last_price[symbol] = tick.last
        elif not math.isnan(tick.bid) and not math.isnan(tick.ask):
            book.last_price[symbol] = (tick.bid + tick.ask) / 2
        elif not math.isnan(tick.midpoint):
            book.last_price[symbol] = tick.midpoint
        return tick


def is_trade(item: TbtItem) -> bool:
    return isinstance(item, TickByTickAllLast)


def tbt_tick(symbol: str, item: TbtItem) -> Tick:
    """One tick-by-tick item as a Tick: only the fields its type carries, NaN elsewhere."""
    t = item.time if item.time.tzinfo else item.time.replace(tzinfo=UTC)
    nan = math.nan
    if isinstance(item, TickByTickAllLast):
        return Tick(symbol, t, nan, nan, _price(item.price), last_size=_price(item.size))
    if isinstance(item, TickByTickBidAsk):
        return Tick(symbol, t, _price(item.bidPrice), _price(item.askPrice), nan,
                    _price(item.bidSize), _price(item.askSize))  # fmt: skip
    return Tick(symbol, t, nan, nan, nan, midpoint=_price(item.midPoint))


def _price(x: float | None) -> float:
    if x is None:
        return math.nan
    return float(x)


def _tick_time(ticker: Ticker) -> datetime | None:
    # RTVolume carries the trade's own time (the server's clock); ticker.time is when the
    # socket read happened, which is the only time IB gives for quotes.
    rt = getattr(ticker, "rtTime", None)
    t = rt if isinstance(rt, datetime) else ticker.time
    if t is None:
        return None
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t


def _same_tick(a: Tick, b: Tick) -> bool:
    return (
        a.time == b.time
        and _eq(a.bid, b.bid)
        and _eq(a.ask, b.ask)
        and _eq(a.last, b.last)
        and _eq(a.bid_size, b.bid_size)
        and _eq(a.ask_size, b.ask_size)
        and _eq(a.last_size, b.last_size)
        and _eq(a.midpoint, b.midpoint)
    )


def _eq(x: float, y: float) -> bool:
    return x == y or (math.isnan(x) and math.isnan(y))
