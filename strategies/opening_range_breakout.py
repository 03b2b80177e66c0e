"""The course's sequel: opening-range breakout on 5-minute bars with a daily kill switch.

The opening range is the high and low of the first ``range_minutes`` of the regular session.
After it, the first 5-minute bar that closes outside the range on volume above ``vol_mult`` x
the average 5-minute volume of the previous ``lookback_days`` days enters a bracket in the
breakout direction (market entry, take-profit ``take_profit_pct`` away, stop at the other side
of the range), at most once per symbol per day.

The daily kill (the day's P&L at +max_daily_profit or -max_daily_loss, or the cutoff in
exchange time: cancel, flatten, no entry that day) is the risk stage's, not the strategy's:
``risk_limits`` maps these params onto the strategy's ``risk:`` (daily_profit_target,
daily_loss_limit with flatten_on_limit, halt_at, pnl_source) at config load, and keys set
there win. Prefer those keys in new configs; the params stay for the course's configs.

The course's own rules are two parameters away (README, "Course rules vs ibbot defaults"):

- ``trigger: last``: the entry fires intrabar on the tick stream, when a trade's price is outside
  the (complete) range and the forming bar's volume so far (the sizes of the trades since the
  bar started) exceeds the volume filter; take-profit from that trade's price. The strategy asks
  for tick-by-tick AllLast ticks (every trade, so the volume is exact); the risk stage then
  checks the daily kill on every tick too. Trades count while the session's bars flow (up to
  two bar lengths after the last bar seen), so extended-hours trades after the close never
  enter.
- ``pnl_source: ib``: the daily kill reads IB's own daily P&L, the sum of ``reqPnLSingle`` over
  the strategy's symbols, instead of the bot's; where IB has no figure (not yet reported, a
  backtest) it falls back to the bot's own, and says so once (``risk.pnl_source``).
"""

from __future__ import annotations

import math
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Literal

from pydantic import Field

from bot.model.events import (
    Bar,
    OrderIntent,
    OrderSpec,
    OrderType,
    PlaceBracket,
    Side,
    Tick,
)
from bot.strategy.api import Strategy, StrategyContext
from bot.strategy.registry import register
from strategies.common import LocalTime, StrategyParams, TimeZoneName


class OpeningRangeBreakoutParams(StrategyParams):
    capital: float = Field(default=1000.0, gt=0)
    """Money per entry: int(capital / price) shares (no trade if 0)."""
    take_profit_pct: float = Field(default=5.0, gt=0)
    """Take-profit distance from the entry price (the bar's close; with trigger last, the
    trade's), in percent."""
    vol_mult: float = Field(default=2.0, gt=0)
    """Breakout bar volume must exceed this multiple of the previous days' average bar volume."""
    lookback_days: int = Field(default=5, ge=1)
    """Previous days whose bar volumes make the average (older days are forgotten)."""
    range_minutes: int = Field(default=15, ge=1)
    """Length of the opening range from the session open."""
    max_daily_profit: float | None = Field(default=1000.0, gt=0)
    """Daily kill at +this P&L today (null: none): the strategy's risk.daily_profit_target."""
    max_daily_loss: float | None = Field(default=500.0, gt=0)
    """Daily kill at -this P&L today (null: none): risk.daily_loss_limit, flatten_on_limit."""
    cutoff: LocalTime | None = time(15, 45)
    """Exchange-local time ("15:45") that ends the day (null: never): risk.halt_at."""
    timezone: TimeZoneName = "America/New_York"
    """Deprecated, ignored: risk.halt_at reads the contracts' own time zone (timeZoneId)."""
    trigger: Literal["close", "last"] = "close"
    """close: a closed bar's close breaks the range; last (the course): a trade on the tick
    stream (tick-by-tick AllLast) does, with the forming bar's volume so far."""
    pnl_source: Literal["own", "ib"] = "own"
    """Daily P&L for the daily kill: own (the bot's, from its fills) or ib (the course: the sum
    of IB's reqPnLSingle daily P&L over its symbols; the bot's own where IB has none)."""


@dataclass(slots=True)
class _Day:
    """One symbol's current session."""

    open: datetime
    complete: bool  # the first bar seen started at the open, so the range is the whole range
    high: float = float("-inf")
    low: float = float("inf")
    volume: float = 0.0  # sum of the session's bar volumes, for the next days' average
    bars: int = 0
    traded: bool = False
    range_done: bool = False  # a bar ending at or after the range's end was seen
    avg: float | None = None  # the previous days' average bar volume
    size_s: int = 0  # the bar length, from the bars seen
    last_end: datetime | None = None  # end of the last bar seen
    forming: datetime | None = None  # start of the bar the trades below belong to
    forming_volume: float = 0.0  # trade sizes since ``forming`` (trigger: last)


@register("opening_range_breakout")
class OpeningRangeBreakout(Strategy[OpeningRangeBreakoutParams]):
    """Bracket in the direction of a high-volume break of the first 15 minutes' range (on a bar's
    close, or intrabar on a trade with trigger last)."""

    Params = OpeningRangeBreakoutParams

    def __init__(self, ctx: StrategyContext, params: OpeningRangeBreakoutParams) -> None:
        super().__init__(ctx, params)
        self._days: dict[str, _Day] = {}
        # (volume, bars) of each previous day, bounded: memory stays O(lookback_days).
        self._history: dict[str, deque[tuple[float, int]]] = {}

    @classmethod
    def risk_limits(cls, params: Any) -> Mapping[str, Any]:
        """The daily kill as the risk stage's limits (the module doc)."""
        p: OpeningRangeBreakoutParams = params
        loss = p.max_daily_loss
        return {
            "daily_profit_target": p.max_daily_profit,
            "daily_loss_limit": loss,
            "flatten_on_limit": loss is not None,
            "halt_at": None if p.cutoff is None else f"{p.cutoff:%H:%M}",
            "pnl_source": p.pnl_source,
        }

    def wants_ticks(self) -> bool:
        return self.params.trigger == "last"

    def tick_type(self) -> str | None:
        return "AllLast" if self.params.trigger == "last" else None

    def on_warmup_bar(self, bar: Bar) -> None:
        """A history bar before going live (or replayed after a reconnect): feeds the volume
        stats and today's range, no trading; so the first live day can already trade."""
        self._observe(bar)

    def on_bar(self, bar: Bar) -> list[OrderIntent]:
        seen = self._observe(bar)
        if seen is None:
            return []
        day, avg = seen
        in_range = bar.time < day.open + timedelta(minutes=self.params.range_minutes)
        if in_range or self.params.trigger != "close":
            return []
        return self._breakout(day, bar.symbol, bar.close, bar.volume, avg)

    def on_tick(self, tick: Tick) -> list[OrderIntent]:
        """trigger: last. A trade of the current session after its range is complete."""
        day, price = self._days.get(tick.symbol), tick.last
        if self.params.trigger != "last" or day is None or not day.range_done:
            return []
        size = timedelta(seconds=day.size_s)
        assert day.last_end is not None  # set with range_done
        if math.isnan(price) or tick.time >= day.last_end + 2 * size:
            # A quote; or no bar for a while: after the session (extended hours), or a later
            # session whose first bar has not arrived yet.
            return []
        start = day.open + (tick.time - day.open) // size * size
        if start != day.forming:
            day.forming, day.forming_volume = start, 0.0
        if not math.isnan(tick.last_size):
            day.forming_volume += tick.last_size
        return self._breakout(day, tick.symbol, price, day.forming_volume, day.avg)

    def _breakout(
        self, day: _Day, sym: str, price: float, volume: float, avg: float | None
    ) -> list[OrderIntent]:
        """The entry rule, for a closed bar's close or a trade's price and the volume with it."""
        p = self.params
        if day.traded or not day.complete:
            return []
        if self.ctx.position(sym) != 0 or avg is None or volume <= p.vol_mult * avg:
            return []
        if price > day.high:
            return self._bracket(sym, price, day, Side.BUY, stop=day.low)
        if price < day.low:
            return self._bracket(sym, price, day, Side.SELL, stop=day.high)
        return []

    def _observe(self, bar: Bar) -> tuple[_Day, float | None] | None:
        """Book a regular-session bar; return its day and the previous days' average volume."""
        open_ = self.ctx.session_open(bar.symbol, bar.time)
        if open_ is None or bar.time < open_:
            return None
        history = self._history.setdefault(bar.symbol, deque(maxlen=self.params.lookback_days))
        day = self._days.get(bar.symbol)
        if day is None or day.open != open_:  # a new session: the last one joins the stats
            if day is not None and day.bars:
                history.append((day.volume, day.bars))
            day = self._days[bar.symbol] = _Day(open_, complete=bar.time == open_)
        avg = day.avg = _average(history)
        day.volume += bar.volume
        day.bars += 1
        day.size_s, day.last_end = bar.size_s, bar.end
        range_end = open_ + timedelta(minutes=self.params.range_minutes)
        if bar.time < range_end:
            day.high, day.low = max(day.high, bar.high), min(day.low, bar.low)
        day.range_done = day.range_done or bar.end >= range_end
        return day, avg

    def _bracket(
        self, sym: str, price: float, day: _Day, side: Side, stop: float
    ) -> list[OrderIntent]:
        qty = int(self.params.capital / price)
        if qty <= 0:
            return []
        day.traded = True
        exit_side = side.opposite
        move = side.sign * self.params.take_profit_pct / 100
        tp = self.ctx.round_to_tick(sym, price * (1 + move))
        sl = self.ctx.round_to_tick(sym, stop)
        return [
            PlaceBracket(
                sym,
                entry=OrderSpec(side, qty),
                take_profit=OrderSpec(exit_side, qty, OrderType.LIMIT, limit_price=tp),
                stop_loss=OrderSpec(exit_side, qty, OrderType.STOP, stop_price=sl),
                tag="orb",
                reason=f"{'above' if side is Side.BUY else 'below'} opening range on volume",
            )
        ]


def _average(history: deque[tuple[float, int]]) -> float | None:
    bars = sum(n for _, n in history)
    return sum(v for v, _ in history) / bars if bars else None
