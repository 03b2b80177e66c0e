"""The Sim bar source: the simulated market's bars in-process, with the live feed's rules.

Warm-up is the same request the live feed sends, answered by the same function the simulated
gateway answers it with (``Market.historical_bars`` at the backtest's time), and taken by the
same ``StreamBook.take_history``. Live, each source bar of the data goes to the stream's
``BarBuilder`` as the gateway's 5-second bars of it would (they add up to it exactly), so a
strategy's bars close at the same instants with the same prices: a 15-minute bar of 1-minute
data closes when its last minute ends. With ``use_rth`` only bars that start in the liquid
session count, as for IB's real-time bars. The backtest loop (bot/backtest/inprocess.py) asks
``next_time`` and calls ``advance_to``; nothing here reads a wall clock.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo

from bot.client.ib import Contract
from bot.market_data.streams import (
    NO_WARMUP,
    REALTIME,
    BarHandler,
    BarStream,
    Emit,
    StreamBook,
    StreamKey,
    TickHandler,
    live_what_to_show,
)
from bot.model.events import Tick
from bot.sim.history import ReplayBars
from bot.sim.market import Market
from bot.sim.types import SimTick

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NAN = float("nan")


class BarSizeError(ValueError):
    """A strategy's bars are finer than the data it replays."""


class SimStream(BarStream):
    """A stream over one instrument's source bars, and how far it has read them."""

    __slots__ = ("cursor", "data")

    def __init__(
        self,
        key: StreamKey,
        contract: Contract,
        tz: tzinfo,
        warmup: str,
        emit: Emit,
        data: ReplayBars,
    ) -> None:
        super().__init__(key, contract, tz, warmup, emit, sub_s=data.bar_s)
        self.data = data
        self.cursor = 0  # index of the next source bar to hand to the builder


class SimFeed(StreamBook):
    """``BarSource`` over a ``Market`` (see module doc); ``now`` is the world's clock."""

    def __init__(
        self,
        market: Market,
        now: Callable[[], datetime],
        on_bar: BarHandler,
        on_tick: TickHandler | None = None,
        *,
        grace_s: float = 10.0,
    ) -> None:
        super().__init__(on_bar, on_tick, grace_s=grace_s)
        self.market = market
        self.now = now
        self.streams: dict[StreamKey, SimStream] = {}
        self._data: dict[tuple[int, str], ReplayBars] = {}
        self._tick_symbols: dict[int, str] = {}  # conId -> symbol, for tick subscriptions
        self._quotes: dict[str, tuple[float, float, float, float]] = {}  # last quote sent
        self._due: list[int] = []  # heap of the bar ends (epoch s) streams wait for
        self._waiting: dict[int, list[SimStream]] = {}  # bar end -> streams reading it next
        self._order: dict[StreamKey, int] = {}  # declaration order

    def _new_stream(
        self, key: StreamKey, contract: Contract, tz: tzinfo, warmup: str, emit: Emit
    ) -> SimStream:
        data_s = self.market.bar_seconds(key.con_id)
        why = finer_than_data(key.symbol, key.bar_size, key.size_s, data_s)
        if why:
            raise BarSizeError(why)
        what = live_what_to_show(key.what_to_show)
        data = self._data.get((key.con_id, what))
        if data is None:
            data = self.market.history.source_bars(key.con_id, what)
            self._data[(key.con_id, what)] = data
        self._order.setdefault(key, len(self._order))
        return SimStream(key, contract, tz, warmup, emit, data)

    def add_ticks(self, symbol: str, contract: Contract) -> None:
        super().add_ticks(symbol, contract)
        self._tick_symbols[contract.conId] = symbol

    def remove_bars(self, key: StreamKey) -> None:
        self.streams.pop(key, None)

    def remove_ticks(self, symbol: str) -> None:
        contract = self._tick_contracts.pop(symbol, None)
        if contract is not None:
            self._tick_symbols.pop(contract.conId, None)

    # ---- start / stop ---------------------------------------------------------------------

    async def start(self) -> None:
        await self.start_streams(list(self.streams))
        self._started = True

    async def start_streams(self, keys: list[StreamKey]) -> None:
        """Warm up (history up to now) and go live from the first source bar after now."""
        now = self.now()
        if self.clock is None or now > self.clock:
            self.clock = now
        now_s = _sec(now)
        for key in keys:
            stream = self.streams.get(key)
            if stream is None:
                continue
            stream.warming = True
            k = stream.key
            bars = []
            if stream.warmup != NO_WARMUP:
                bars = self.market.history.historical_bars(
                    k.con_id, now, stream.warmup, k.bar_size, k.what_to_show, k.use_rth, now
                )
            self.take_history(stream, bars, now)
            stream.cursor = bisect.bisect_left(stream.data.start, now_s)
            stream.warming = False
            self._schedule(stream)

    def stop(self) -> None:
        self._started = False

    # ---- the replay -----------------------------------------------------------------------

    def next_time(self) -> datetime | None:
        """End of the next source bar any stream will read (None: all read)."""
        due = self._due
        while due and not self._due_streams(due[0]):
            heapq.heappop(due)  # every stream that waited for it was removed
        return _dt(due[0]) if due else None

    def _due_streams(self, end: int) -> list[SimStream]:
        waiting = self._waiting.get(end, [])
        live = [s for s in waiting if self.streams.get(s.key) is s and _end_at(s) == end]
        if not live:
            self._waiting.pop(end, None)
        return live

    def _schedule(self, s: SimStream) -> None:
        if s.cursor < len(s.data.end):
            end = s.data.end[s.cursor]
            waiting = self._waiting.get(end)
            if waiting is None:
                self._waiting[end] = [s]
                heapq.heappush(self._due, end)
            else:
                waiting.append(s)

    def advance_to(self, t: datetime) -> list[tuple[int, float]]:
        """Hand every source bar ending by ``t`` to its streams' builders (closed bars go to
        the engine), move the market clock to ``t``; the (conId, close) of each bar read.
        Streams are read in the order they were declared, as the gateway streams them."""
        t_s = _sec(t)
        marks: list[tuple[int, float]] = []
        due: list[SimStream] = []
        while self._due and self._due[0] <= t_s:
            end = heapq.heappop(self._due)
            due.extend(self._due_streams(end))
            self._waiting.pop(end, None)
        order = self._order
        for s in sorted(due, key=lambda s: order[s.key]) if len(due) > 1 else due:
            self._read(s, t_s, marks)
            self._schedule(s)
        self.advance(t)
        return marks

    def _read(self, s: SimStream, t_s: int, marks: list[tuple[int, float]]) -> None:
        d, i = s.data, s.cursor
        n = len(d.end)
        symbol, rth, builder, con_id = s.key.symbol, s.key.use_rth, s.builder, s.key.con_id
        while i < n and d.end[i] <= t_s:
            if not rth or d.liquid[i]:
                close = d.close[i]
                self.last_price[symbol] = close
                builder.add(_dt(d.start[i]), d.open[i], d.high[i], d.low[i], close, d.volume[i])
                marks.append((con_id, close))
            i += 1
        s.cursor = i

    @property
    def tick_con_ids(self) -> list[int]:
        return list(self._tick_symbols)

    def take_ticks(self, ticks: list[SimTick]) -> None:
        """The market's ticks of the tick-subscribed instruments, in time order, as IB would
        send them: market data whole; tick-by-tick only what its kind carries (a trade each
        print, a quote or midpoint when it changes), stamped in whole seconds."""
        on_tick = self.on_tick
        if on_tick is None:
            return
        for st in ticks:
            symbol = self._tick_symbols.get(st.con_id)
            if symbol is None:
                continue
            self.last_price[symbol] = st.last
            tick = self._as_sent(symbol, st)
            if tick is not None:
                self.ticks_out += 1
                on_tick(tick)

    def _as_sent(self, symbol: str, st: SimTick) -> Tick | None:
        t = st.time.replace(microsecond=0)
        kind = self.tick_by_tick.get(symbol)
        if kind is None:
            return Tick(symbol, t, st.bid, st.ask, st.last, st.bid_size, st.ask_size,
                        st.last_size)  # fmt: skip
        if kind in ("Last", "AllLast"):
            return Tick(symbol, t, NAN, NAN, st.last, last_size=st.last_size)
        quote = (st.bid, st.ask, st.bid_size, st.ask_size)
        prev = self._quotes.get(symbol)
        self._quotes[symbol] = quote
        if kind == "BidAsk":
            if prev == quote:
                return None
            return Tick(symbol, t, st.bid, st.ask, NAN, st.bid_size, st.ask_size)
        mid = (st.bid + st.ask) / 2
        if prev is not None and (prev[0] + prev[1]) / 2 == mid:
            return None
        return Tick(symbol, t, NAN, NAN, NAN, midpoint=mid)

def finer_than_data(symbol: str, bar_size: str, size_s: int, data_s: int) -> str | None:
    """Why bars of ``bar_size`` cannot be built from ``data_s``-second data (None: they can)."""
    if size_s >= data_s:
        return None
    data = _size_text(data_s)
    return (
        f"{symbol}: the strategy's bars ({bar_size}) are finer than its data ({data} bars): "
        f"use a bar size of at least {data}, or finer data"
    )


def _end_at(s: SimStream) -> int | None:
    return s.data.end[s.cursor] if s.cursor < len(s.data.end) else None


def _sec(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(seconds=1)


def _dt(sec: int) -> datetime:
    return _EPOCH + timedelta(seconds=sec)


def _size_text(seconds: int) -> str:
    if seconds % 86400 == 0:
        return f"{seconds // 86400} day"
    if seconds % 3600 == 0:
        return f"{seconds // 3600} hour"
    if seconds % 60 == 0:
        return f"{seconds // 60} min"
    return f"{seconds} secs"


__all__ = ["REALTIME", "BarSizeError", "SimFeed"]
