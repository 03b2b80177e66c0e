"""ib_insync subscriptions -> closed ``Bar``s and clean ``Tick``s, in order, once each.

One ``BarStream`` per (contract, bar spec), however many strategies read it. Start-up of a stream:

1. subscribe to 5-second real-time bars first, buffering them (so nothing falls in a gap);
2. ask the server's time, then ``reqHistoricalData`` for the warm-up duration: complete bars go
   to the consumer as warm-up (``live=False``: indicators only, no orders); the last bar, still in
   progress, seeds the live ``BarBuilder`` (the warm-up -> live seam);
3. replay the buffer and go live: every 5-second bar passes the data-quality filter, then the
   builder, which hands on each bar once, when it closes (``bot/market_data/bar_builder.py``).

A stream with ``source="keep_up_to_date"`` takes IB's own bars instead of building them:

1. ``reqHistoricalData(keepUpToDate=True)`` for the warm-up duration: complete bars are warm-up
   as above; IB then keeps the last bar of the list up to date and appends a new one when the
   next bar starts (``updateEvent`` with ``hasNewBar``);
2. going live, and on every update after: each bar before the last (the only one in progress)
   that ends after ``last_end`` is closed and handed on, once, in order. Updates that arrive
   during the warm-up are caught up when the stream goes live (the seam); the last bar is never
   handed on while it is the last, so a session's final bar arrives when the next one starts.

After an outage (a reconnect, 1101/1102, a data farm back, a stale stream) ``restart`` or
``start()`` again does the same steps as a backfill: the history request asks only for the
missing range, from the builder's ``last_end`` (history before it is in memory) to the server's
time, with an explicit endDateTime, so it never repeats an earlier request. Its bars reach the
strategies once, in order: the one that closed within a bar interval live, older ones as
warm-up (``StreamBook.take_history``). Every historical request waits its turn in the
``HistoryGovernor`` (bot/market_data/history_pacing.py), which keeps IB's pacing rules and retries
a 162.

Ticks are subscribed after the warm-up, for the symbols some strategy asked for: market data
(``reqMktData``, a snapshot of quote and last trade per update) or, where the engine asked for it
(``tick_by_tick``), ``reqTickByTickData`` of one type, each item one ``Tick``. Both pass the same
checks (time, NaN, non-positive, order; repeated quotes are dropped, repeated trade prints are
real trades and kept).
The consumer callbacks run synchronously inside ib_insync's socket read, so per-symbol order is
the socket's order and there is no queue between the wire and the strategies.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from dataclasses import replace
from datetime import UTC, datetime, timedelta, tzinfo

from bot.client.ib import (
    IB,
    BarData,
    BarDataList,
    Contract,
    RealTimeBar,
    RealTimeBarList,
    TickByTickAllLast,
    TickByTickBidAsk,
    TickByTickMidPoint,
    Ticker,
)
from bot.market_data.bar_builder import DAY_S, RT_BAR_S, clean_volume, price_problem
from bot.market_data.data_lines import BARS, TICKS, DataLines
from bot.market_data.history_pacing import HistoryGovernor, HistoryKey, is_pacing_violation
from bot.market_data.streams import (
    KEEP_UP_TO_DATE,
    NO_WARMUP,
    REALTIME,
    BarHandler,
    BarStream,
    Emit,
    StreamBook,
    StreamKey,
    TickHandler,
    bar_time,
    duration_seconds,
    live_what_to_show,
)
from bot.market_data.tick_times import keep_tick_times
from bot.model.durations import covering_duration
from bot.model.events import Bar, Tick
from bot.model.ib_time import format_ib_time

log = logging.getLogger(__name__)

__all__ = ["KEEP_UP_TO_DATE", "REALTIME", "Feed", "StreamKey", "duration_seconds"]

_RT_KEEP = 256  # real-time bars ib_insync may keep in its list (it would grow without end)
_KUTD_KEEP = 64  # likewise for keepUpToDate bars (all of the warm-up stays until the first trim)
_5S = timedelta(seconds=RT_BAR_S)
_BETWEEN_SESSIONS = timedelta(minutes=30)  # a shorter hole in 5-second bars is an outage


class IbStream(BarStream):
    """A stream's ib_insync subscription besides the shared state."""

    __slots__ = ("buffer", "covered", "generation", "hist", "last_data", "last_rt", "rt",
                 "subscribed_at")

    def __init__(
        self, key: StreamKey, contract: Contract, tz: tzinfo, warmup: str, emit: Emit
    ) -> None:
        super().__init__(key, contract, tz, warmup, emit)
        self.rt: RealTimeBarList | None = None
        self.hist: BarDataList | None = None  # the keepUpToDate list (source KEEP_UP_TO_DATE)
        self.buffer: list[RealTimeBar] = []
        self.last_rt: datetime | None = None  # start of the last 5-second bar accepted
        # The market data in the builder reaches this far: the history's time, then the end of
        # each 5-second bar taken. A later bar that leaves a hole means an outage.
        self.covered: datetime | None = None
        self.generation = 0  # subscriptions made: a gap's backfill skips a stream made anew
        # For the staleness watchdog (bot/live/watchdog.py), in market time: the newest data seen
        # and the server's time when the subscription was (re)made.
        self.last_data: datetime | None = None
        self.subscribed_at: datetime | None = None


class Feed(StreamBook):
    """Bar and tick subscriptions shared by all strategies (see module doc)."""

    def __init__(
        self,
        ib: IB,
        on_bar: BarHandler,
        on_tick: TickHandler | None = None,
        *,
        grace_s: float = 10.0,
        history_timeout: float = 60.0,
        tick_skew_s: float = 30.0,
        current_time: Callable[[], Awaitable[datetime]] | None = None,
        governor: HistoryGovernor | None = None,
        max_data_lines: int = 100,
        on_rt_bar: Callable[[StreamKey, RealTimeBar], None] | None = None,
    ) -> None:
        """``current_time``: the broker's clock (default ``ib.reqCurrentTimeAsync``; the
        daemon shares one request with its other readers: bot.venues.ib.IbVenue).
        ``max_data_lines``: the account's market-data lines (bot/market_data/data_lines.py):
        every bar stream and tick subscription takes one; past them a subscription is refused
        here (logged with the symbol and the limit) instead of by IB (error 101).
        ``on_rt_bar``: sees each 5-second bar as it arrives (the recorder,
        bot/market_data/recorder.py)."""
        super().__init__(on_bar, on_tick, grace_s=grace_s)
        self.on_rt_bar = on_rt_bar
        self.governor = governor or HistoryGovernor()
        self.ib = ib
        self.current_time = current_time or (lambda: ib.reqCurrentTimeAsync())
        self.tick_skew = timedelta(seconds=tick_skew_s)
        self.history_timeout = history_timeout
        self.streams: dict[StreamKey, IbStream] = {}
        self.gap_backfills = 0  # 5-second bars skipped (a silent outage): streams backfilled
        self._restarting = asyncio.Lock()  # one restart at a time: they share streams
        self._tasks: set[asyncio.Task[None]] = set()
        self._tickers: dict[str, Ticker] = {}
        self.lines = DataLines(max_data_lines)
        self._last_tick: dict[str, Tick] = {}

    # ---- set-up ---------------------------------------------------------------------------

    def _new_stream(
        self, key: StreamKey, contract: Contract, tz: tzinfo, warmup: str, emit: Emit
    ) -> IbStream:
        return IbStream(key, contract, tz, warmup, emit)

    def remove_bars(self, key: StreamKey) -> None:
        """End a stream (its subscription too, when connected); a no-op for an unknown key."""
        stream = self.streams.pop(key, None)
        if stream is not None:
            self._unsubscribe(stream, self.ib.isConnected())
        self.lines.forget((BARS, key))

    def remove_ticks(self, symbol: str) -> None:
        ticker = self._tickers.pop(symbol, None)
        if ticker is not None:
            self._cancel_ticker(symbol, ticker, self.ib.isConnected())
        self.lines.forget((TICKS, symbol))
        self._tick_contracts.pop(symbol, None)
        self.tick_by_tick.pop(symbol, None)

    def wanted_lines(self) -> list[str]:
        """One label per market-data line the declared streams and ticks need."""
        return [_bars_label(k) for k in self.streams] + [
            f"{symbol} ticks" for symbol in self._tick_contracts]  # fmt: skip

    # ---- start / stop ----------------------------------------------------------------------

    async def start(self) -> None:
        """Subscribe everything, warm up every stream, then go live (also after a reconnect)."""
        for stream in self.streams.values():
            self._subscribe(stream)
        now = await self.current_time()
        if self.clock is None or now > self.clock:
            self.clock = now  # the server's time anchors the market clock until bars flow
        await asyncio.gather(*(self._warm_up(s, now) for s in self.streams.values()))
        for stream in self.streams.values():
            self._go_live(stream)
        self._start_ticks()
        self._started = True

    async def restart(self, keys: list[StreamKey] | None = None, *, ticks: bool = False,
                      unless_renewed: int | None = None) -> None:  # fmt: skip
        """Cancel and subscribe again (every stream, or ``keys``), backfilling what each
        missed; ``ticks``: the tick subscriptions too (after 1101 IB has dropped them all);
        ``unless_renewed``: skip a stream subscribed again since that generation (another
        restart has backfilled it meanwhile)."""
        async with self._restarting:
            if not self._started or not self.ib.isConnected():
                return
            streams = list(self.streams.values()) if keys is None else [
                self.streams[k] for k in keys if k in self.streams]  # fmt: skip
            if unless_renewed is not None:
                streams = [s for s in streams if s.generation == unless_renewed]
            for stream in streams:
                self._unsubscribe(stream, True)
            if ticks:
                self._cancel_ticks(True)
            await self._bring_up(streams)

    async def start_streams(self, keys: list[StreamKey]) -> None:
        """Subscribe, warm up and go live with streams added while running (a daily scan's
        new symbols), and with any earlier one still waiting for a market-data line (the
        scan's rotation may have freed some); before ``start()`` (or while disconnected) they
        wait for it."""
        if not self._started or not self.ib.isConnected():
            return
        todo = [self.streams[k] for k in keys if k in self.streams]
        todo += [s for s in self.streams.values()
                 if s not in todo and (BARS, s.key) in self.lines.refused]  # fmt: skip
        await self._bring_up(todo)

    async def _bring_up(self, streams: list[IbStream]) -> None:
        for stream in streams:
            self._subscribe(stream)
        now = await self.current_time()
        await asyncio.gather(*(self._warm_up(s, now) for s in streams))
        for stream in streams:
            if self.streams.get(stream.key) is stream and stream.warming:  # not removed
                self._go_live(stream)
        self._start_ticks()

    def _start_ticks(self) -> None:
        for symbol, contract in self._tick_contracts.items():
            if symbol in self._tickers or not self.lines.take((TICKS, symbol), TICKS,
                                                              f"{symbol} ticks"):  # fmt: skip
                continue
            what = self.tick_by_tick.get(symbol)
            if what is None:
                ticker = self.ib.reqMktData(contract, "", False, False)
                ticker.updateEvent += self._tick_handler(symbol)
            else:
                keep_tick_times(self.ib)
                ticker = self.ib.reqTickByTickData(contract, what)
                ticker.updateEvent += self._tbt_handler(symbol)
            self._tickers[symbol] = ticker

    def _cancel_ticker(self, symbol: str, ticker: Ticker, connected: bool) -> None:
        ticker.updateEvent.clear()
        self.lines.release((TICKS, symbol))
        contract = self._tick_contracts.get(symbol)
        if not connected or contract is None:
            return
        what = self.tick_by_tick.get(symbol)
        if what is None:
            self.ib.cancelMktData(contract)
        else:
            self.ib.cancelTickByTickData(contract, what)

    def stop(self) -> None:
        """Cancel every subscription (when still connected); idempotent."""
        connected = self.ib.isConnected()
        for stream in self.streams.values():
            self._unsubscribe(stream, connected)
        self._cancel_ticks(connected)
        self._started = False

    def _cancel_ticks(self, connected: bool) -> None:
        for symbol, ticker in self._tickers.items():
            self._cancel_ticker(symbol, ticker, connected)
        self._tickers.clear()

    def _unsubscribe(self, stream: IbStream, connected: bool) -> None:
        self.lines.release((BARS, stream.key))
        if stream.rt is not None:
            stream.rt.updateEvent.clear()
            if connected:
                self.ib.cancelRealTimeBars(stream.rt)
            stream.rt = None
        if stream.hist is not None:
            stream.hist.updateEvent.clear()
            if connected:
                self.ib.cancelHistoricalData(stream.hist)
            stream.hist = None
        stream.warming = True
        stream.buffer.clear()
        stream.covered = None

    def _subscribe(self, stream: IbStream) -> None:
        k = stream.key
        stream.generation += 1
        stream.warming = True
        stream.buffer.clear()
        if not self.lines.take((BARS, k), BARS, _bars_label(k)):
            return  # no line: it stays warming (the watchdog leaves it alone) until one frees
        if k.source == KEEP_UP_TO_DATE:
            return  # the warm-up request is the subscription
        what = live_what_to_show(k.what_to_show)
        rt = self.ib.reqRealTimeBars(stream.contract, RT_BAR_S, what, k.use_rth)
        rt.updateEvent += self._rt_handler(stream)
        stream.rt = rt

    async def _warm_up(self, stream: IbStream, now: datetime) -> None:
        """The warm-up, or after an outage the backfill of just the missing range."""
        k = stream.key
        kutd = k.source == KEEP_UP_TO_DATE
        last_end = stream.builder.last_end
        if not self.lines.holds((BARS, k)):
            return
        if stream.warmup == NO_WARMUP and last_end is None:  # realtime only: no history
            self.take_history(stream, [], now)
            return
        # IB takes no endDateTime with keepUpToDate or ADJUSTED_LAST; elsewhere an explicit
        # one (the server's time) makes every request differ from the previous ones.
        end = "" if kutd or k.what_to_show.upper() == "ADJUSTED_LAST" else format_ib_time(now)
        duration = stream.warmup if last_end is None else self._backfill_duration(
            stream, now - last_end, end)  # fmt: skip
        stream.subscribed_at = now
        bars = await self._history(stream, end, duration, kutd)
        if kutd and bars is not None:
            stream.hist = bars
            bars.updateEvent += self._kutd_handler(stream)
        self.take_history(stream, list(bars or ()), now, backfill=last_end is not None)
        stream.covered = now  # the bar in progress is in the history up to now

    def _backfill_duration(self, stream: IbStream, gap: timedelta, end: str) -> str:
        """Just the missing range; should that repeat a request sent within IB's 15 seconds
        (a reconnect within the same server second, the first answer lost with the socket), a
        bar (or day) more: never an identical request, and no 15 s wait. The extra bars are
        before the gap, skipped as handed on already."""
        size_s = stream.key.size_s
        while True:
            duration = covering_duration(gap, size_s)
            if not self.governor.repeats(_history_key(stream, end, str(duration))):
                return str(duration)
            gap += timedelta(seconds=DAY_S if duration.unit == "D" else size_s)

    async def _history(
        self, stream: IbStream, end: str, duration: str, kutd: bool
    ) -> BarDataList | None:
        """One reqHistoricalData through the governor, sent again after a 162 pacing
        violation (which ib_insync answers with an empty list)."""
        k, contract = stream.key, stream.contract
        paced: list[bool] = []

        def on_error(req_id: int, code: int, text: str, c: Contract | None) -> None:
            if c is not None and c.conId == k.con_id and is_pacing_violation(code, text):
                paced.append(True)

        def send() -> Awaitable[BarDataList]:
            paced.clear()
            return self.ib.reqHistoricalDataAsync(
                contract, end, duration, k.bar_size, k.what_to_show, k.use_rth, formatDate=2,
                keepUpToDate=kutd, timeout=self.history_timeout,
            )  # fmt: skip

        key = _history_key(stream, end, duration)
        self.ib.errorEvent += on_error
        try:
            return await self.governor.request(key, send, lambda: bool(paced))
        finally:
            self.ib.errorEvent -= on_error

    def _go_live(self, stream: IbStream) -> None:
        if not self.lines.holds((BARS, stream.key)):
            return
        buffered, stream.buffer = stream.buffer, []
        stream.warming = False
        for rtb in buffered:
            self._take_rt(stream, rtb)
        if stream.hist is not None:
            self._take_kutd(stream, stream.hist)  # bars that closed during the warm-up

    # ---- live: keepUpToDate bars ---------------------------------------------------------------

    def _kutd_handler(self, stream: IbStream) -> Callable[[BarDataList, bool], None]:
        def on_update(bars: BarDataList, has_new_bar: bool) -> None:
            if bars:
                t = bar_time(bars[-1], stream.builder.tz)
                if t is not None and (stream.last_data is None or t > stream.last_data):
                    stream.last_data = t
            if bars and not stream.warming:
                self._take_kutd(stream, bars)

        return on_update

    def _take_kutd(self, stream: IbStream, bars: BarDataList) -> None:
        """Hand on, in order, every bar before the last (in progress) not handed on yet."""
        if not bars:
            return
        symbol = stream.key.symbol
        last = bars[-1]
        if price_problem(last.open, last.high, last.low, last.close) is None:
            self.last_price[symbol] = last.close
        builder = stream.builder
        first = len(bars) - 1  # index of the oldest closed bar still to hand on
        while first > 0 and not self._handed_on(stream, bars[first - 1]):
            first -= 1
        for bd in bars[first:-1]:
            bar = self.history_bar(stream, bd, "keepUpToDate bar")
            if bar is None:
                continue
            start, end = builder.bucket(bar.time)
            if builder.last_end is not None and start < builder.last_end:
                self.quality.drop(symbol, "out-of-order", "keepUpToDate bar")
                continue
            builder.last_end = end
            builder.emit(Bar(symbol, start, bar.open, bar.high, bar.low, bar.close, bar.volume,
                             int((end - start).total_seconds())))  # fmt: skip
            self.advance(end)
        if len(bars) > _KUTD_KEEP:
            del bars[:-2]  # ib_insync appends to this list for as long as it is subscribed

    def _handed_on(self, stream: IbStream, bd: BarData) -> bool:
        """Whether this bar ends at or before the last one handed on (warm-up included)."""
        last_end = stream.builder.last_end
        if last_end is None:
            return False
        t = bar_time(bd, stream.builder.tz)
        return t is not None and stream.builder.bucket(t)[1] <= last_end

    # ---- live: 5-second real-time bars ---------------------------------------------------------

    def _rt_handler(self, stream: IbStream) -> Callable[[RealTimeBarList, bool], None]:
        def on_rt(bars: RealTimeBarList, has_new: bool) -> None:
            if not bars:
                return
            rtb = bars[-1]
            if len(bars) > _RT_KEEP:
                del bars[:-1]
            stream.last_data = rtb.time + _5S
            if self.on_rt_bar is not None:
                self.on_rt_bar(stream.key, rtb)
            if stream.warming:
                stream.buffer.append(rtb)
            else:
                self._take_rt(stream, rtb)

        return on_rt

    def _take_rt(self, stream: IbStream, rtb: RealTimeBar) -> None:
        symbol = stream.key.symbol
        why = price_problem(rtb.open_, rtb.high, rtb.low, rtb.close)
        if why is not None:
            self.quality.drop(symbol, why, "5-second bar")
            return
        t = rtb.time
        last = stream.last_rt
        if last is not None and t <= last:
            self.quality.drop(symbol, "duplicate" if t == last else "out-of-order", "5-second bar")
            return
        covered = stream.covered
        if covered is not None and t < covered:
            return  # in the history's bar already: the expected overlap at the seam
        if covered is not None and t - covered >= _5S and self._skips_a_bucket(stream, covered, t):
            self._backfill_gap(stream, covered, t)
            return
        stream.last_rt = t
        stream.covered = t + _5S
        self.last_price[symbol] = rtb.close
        builder = stream.builder
        before = builder.last_end
        if before is not None and t < before:
            # Covered by a warm-up bar already handed on: the expected overlap at the seam.
            return
        builder.add(t, rtb.open_, rtb.high, rtb.low, rtb.close, clean_volume(rtb.volume))
        self.advance(t + _5S)

    @staticmethod
    def _skips_a_bucket(stream: IbStream, covered: datetime, t: datetime) -> bool:
        """Whether a hole in the 5-second bars (``covered`` .. ``t``) would make the bars built
        from here on partial or missing (an outage IB did not announce, a farm back, 1102).
        A long hole with an empty bucket on either side is taken as the time between two
        sessions (the staleness watchdog catches a long outage inside one)."""
        b = stream.builder
        clean = b.open_end is None and b.bucket(t)[0] == t
        return not clean or t - covered < _BETWEEN_SESSIONS

    def _backfill_gap(self, stream: IbStream, covered: datetime, t: datetime) -> None:
        log.info("%s %s: no 5-second bars from %s to %s; backfilling the gap",
                 stream.key.symbol, stream.key.bar_size, f"{covered:%H:%M:%S}",
                 f"{t:%H:%M:%S}")  # fmt: skip
        self.gap_backfills += 1
        stream.warming = True  # what arrives until the restart is in the backfill
        task = asyncio.get_running_loop().create_task(
            self._restart_logged(stream.key, stream.generation))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _restart_logged(self, key: StreamKey, generation: int) -> None:
        try:
            await self.restart([key], unless_renewed=generation)
        except Exception as e:  # the socket went meanwhile: the reconnect backfills instead
            log.warning("%s: backfilling the gap failed: %s", key.symbol, e or type(e).__name__)

    # ---- ticks -----------------------------------------------------------------------------

    def _tick_handler(self, symbol: str) -> Callable[[Ticker], None]:
        def on_ticker(ticker: Ticker) -> None:
            tick = self._tick_of(symbol, ticker)
            if tick is not None and self.on_tick is not None:
                self.ticks_out += 1
                self.on_tick(tick)

        return on_ticker

    def _tbt_handler(self, symbol: str) -> Callable[[Ticker], None]:
        def on_ticker(ticker: Ticker) -> None:
            for item in ticker.tickByTicks:  # this socket read's items (ib_insync resets it)
                tick = self._checked(_tbt_tick(symbol, item), trade=_is_trade(item))
                if tick is not None and self.on_tick is not None:
                    self.ticks_out += 1
                    self.on_tick(tick)

        return on_ticker

    def _tick_of(self, symbol: str, ticker: Ticker) -> Tick | None:
        """The ticker's state as a Tick, or None (dropped and counted) if it is bad or stale."""
        t = _tick_time(ticker)
        if t is None:
            self.quality.drop(symbol, "no-time", "tick")
            return None
        tick = Tick(symbol, t, _price(ticker.bid), _price(ticker.ask), _price(ticker.last),
                    _price(ticker.bidSize), _price(ticker.askSize),
                    _price(ticker.lastSize))  # fmt: skip
        return self._checked(tick, trade=False)

    def _checked(self, tick: Tick, *, trade: bool) -> Tick | None:
        """``tick`` on the market clock, or None (dropped and counted) if it is bad or stale;
        ``trade``: a tick-by-tick trade print, where an identical one is another real trade."""
        symbol, t, clock = tick.symbol, tick.time, self.clock
        if clock is not None and abs(t - clock) > self.tick_skew:
            # Ticks carry no time of their own, only their arrival (wall clock). When that
            # disagrees with the market's clock (a replay at 400x), the market's clock wins.
            t = clock
            tick = replace(tick, time=t)
        prices = (tick.bid, tick.ask, tick.last, tick.midpoint)
        if all(math.isnan(p) for p in prices):
            self.quality.drop(symbol, "nan", "tick")
            return None
        if any(p <= 0 for p in prices):  # NaN compares False: only real bad values
            self.quality.drop(symbol, "non-positive", "tick")
            return None
        prev = self._last_tick.get(symbol)
        if prev is not None:
            if t < prev.time:
                self.quality.drop(symbol, "out-of-order", "tick")
                return None
            if not trade and _same_tick(tick, prev):
                self.quality.drop(symbol, "duplicate", "tick")
                return None
        self._last_tick[symbol] = tick
        if not math.isnan(tick.last):
            self.last_price[symbol] = tick.last
        elif not math.isnan(tick.bid) and not math.isnan(tick.ask):
            self.last_price[symbol] = (tick.bid + tick.ask) / 2
        elif not math.isnan(tick.midpoint):
            self.last_price[symbol] = tick.midpoint
        return tick



TbtItem = TickByTickAllLast | TickByTickBidAsk | TickByTickMidPoint


def _is_trade(item: TbtItem) -> bool:
    return isinstance(item, TickByTickAllLast)


def _tbt_tick(symbol: str, item: TbtItem) -> Tick:
    """One tick-by-tick item as a Tick: only the fields its type carries, NaN elsewhere."""
    t = item.time if item.time.tzinfo else item.time.replace(tzinfo=UTC)
    nan = math.nan
    if isinstance(item, TickByTickAllLast):
        return Tick(symbol, t, nan, nan, _price(item.price), last_size=_price(item.size))
    if isinstance(item, TickByTickBidAsk):
        return Tick(symbol, t, _price(item.bidPrice), _price(item.askPrice), nan,
                    _price(item.bidSize), _price(item.askSize))  # fmt: skip
    return Tick(symbol, t, nan, nan, nan, midpoint=_price(item.midPoint))


def _bars_label(k: StreamKey) -> str:
    return f"{k.symbol} {k.bar_size} bars"


def _history_key(stream: IbStream, end: str, duration: str) -> HistoryKey:
    k = stream.key
    return HistoryKey(k.con_id, stream.contract.exchange, k.what_to_show, k.bar_size, duration,
                      end, k.use_rth)  # fmt: skip


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
