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
checks (time, NaN, non-positive, order; repeated quotes are dropped, repeated trade prints are real
trades and kept). The consumer callbacks run synchronously inside ib_insync's socket read, so
per-symbol order is the socket's order and there is no queue between the wire and the strategies.

Here: subscriptions, warm-up and the 5-second bars. Beside it: ``ib_stream`` (a stream's
subscription state), ``ib_history`` (the history requests), ``kutd_bars`` (keepUpToDate bars),
``ib_ticks`` and ``tick_filter`` (tick subscriptions and their checks).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta, tzinfo

from bot.client.ib import IB, BarDataList, Contract, RealTimeBar, RealTimeBarList
from bot.market_data.bar_builder import RT_BAR_S, clean_volume, price_problem
from bot.market_data.data_lines import BARS, DataLines
from bot.market_data.history_pacing import HistoryGovernor
from bot.market_data.ib_history import HistoryRequests
from bot.market_data.ib_stream import IbStream, bars_label
from bot.market_data.ib_ticks import TickSubscriptions
from bot.market_data.kutd_bars import take_kutd
from bot.market_data.streams import (
    KEEP_UP_TO_DATE,
    NO_WARMUP,
    REALTIME,
    BarHandler,
    Emit,
    StreamBook,
    StreamKey,
    TickHandler,
    bar_time,
    duration_seconds,
    live_what_to_show,
)
from bot.market_data.tick_filter import TickFilter
from bot.model.ib_time import format_ib_time

log = logging.getLogger(__name__)

__all__ = ["KEEP_UP_TO_DATE", "REALTIME", "Feed", "StreamKey", "duration_seconds"]

_RT_KEEP = 256  # real-time bars ib_insync may keep in its list (it would grow without end)
_5S = timedelta(seconds=RT_BAR_S)
_BETWEEN_SESSIONS = timedelta(minutes=30)  # a shorter hole in 5-second bars is an outage


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
        self.history = HistoryRequests(ib, self.governor, history_timeout)
        self.streams: dict[StreamKey, IbStream] = {}
        self.gap_backfills = 0  # 5-second bars skipped (a silent outage): streams backfilled
        self._restarting = asyncio.Lock()  # one restart at a time: they share streams
        self._tasks: set[asyncio.Task[None]] = set()
        self.lines = DataLines(max_data_lines)
        check = TickFilter(self, timedelta(seconds=tick_skew_s))
        self.tick_subs = TickSubscriptions(ib, self, self._tick_contracts, self.lines, check)

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
        self.tick_subs.remove(symbol)
        self._tick_contracts.pop(symbol, None)
        self.tick_by_tick.pop(symbol, None)

    def wanted_lines(self) -> list[str]:
        """One label per market-data line the declared streams and ticks need."""
        return [bars_label(k) for k in self.streams] + [
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
        self.tick_subs.start()
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
                self.tick_subs.cancel_all(True)
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
        self.tick_subs.start()

    def stop(self) -> None:
        """Cancel every subscription (when still connected); idempotent."""
        connected = self.ib.isConnected()
        for stream in self.streams.values():
            self._unsubscribe(stream, connected)
        self.tick_subs.cancel_all(connected)
        self._started = False

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
        if not self.lines.take((BARS, k), BARS, bars_label(k)):
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
        duration = stream.warmup if last_end is None else self.history.backfill_duration(
            stream, now - last_end, end)  # fmt: skip
        stream.subscribed_at = now
        bars = await self.history.request(stream, end, duration, kutd)
        if kutd and bars is not None:
            stream.hist = bars
            bars.updateEvent += self._kutd_handler(stream)
        self.take_history(stream, list(bars or ()), now, backfill=last_end is not None)
        stream.covered = now  # the bar in progress is in the history up to now

    def _go_live(self, stream: IbStream) -> None:
        if not self.lines.holds((BARS, stream.key)):
            return
        buffered, stream.buffer = stream.buffer, []
        stream.warming = False
        for rtb in buffered:
            self._take_rt(stream, rtb)
        if stream.hist is not None:
            take_kutd(self, stream, stream.hist)  # bars that closed during the warm-up

    # ---- live: keepUpToDate bars ---------------------------------------------------------------

    def _kutd_handler(self, stream: IbStream) -> Callable[[BarDataList, bool], None]:
        def on_update(bars: BarDataList, has_new_bar: bool) -> None:
            if bars:
                t = bar_time(bars[-1], stream.builder.tz)
                if t is not None and (stream.last_data is None or t > stream.last_data):
                    stream.last_data = t
            if bars and not stream.warming:
                take_kutd(self, stream, bars)

        return on_update

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
