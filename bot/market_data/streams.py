"""What every bar source shares: one stream per (contract, bar spec), the warm-up rule, the
aggregation into closed bars and the market clock that closes quiet buckets.

A bar source (the ``BarSource`` port, bot/ports/venue.py) is a ``StreamBook`` plus the way its venue
delivers data: ``bot.market_data.ib_feed.Feed`` subscribes through ib_insync,
``bot.venues.sim_feed`` reads the simulated market in-process. Both hand their warm-up history to
``take_history`` and their live bars to each stream's ``BarBuilder``
(bot/market_data/bar_builder.py), so a strategy sees the very same bars from either: complete
history bars as warm-up (``live=False``), the one still in progress seeding the builder, then every
bar once, when it closes.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from bot.market_data.bar_builder import (
    RT_BAR_S,
    BarBuilder,
    QualityLog,
    clean_volume,
    price_problem,
)
from bot.model.durations import parse_duration
from bot.model.events import Bar, Tick

if TYPE_CHECKING:  # bot/config/bars.py imports this module before the library is chosen
    from bot.client.ib import BarData, Contract

log = logging.getLogger(__name__)

REALTIME, KEEP_UP_TO_DATE = "realtime", "keep_up_to_date"  # where a stream's live bars come from
NO_WARMUP = "none"  # a bar spec's warm-up when there is none (a backtest from the data's start)


def duration_seconds(duration: str) -> int:
    """Rough length of an IB duration string ("10 D" -> 864000), to compare two of them."""
    if duration == NO_WARMUP:
        return 0
    parsed = parse_duration(duration, loose=True)
    if parsed is None:
        raise ValueError(f"bad IB duration {duration!r}")
    return parsed.longest_seconds()


@dataclass(frozen=True, slots=True)
class StreamKey:
    """One subscription: a contract and a bar spec."""

    symbol: str
    con_id: int
    bar_size: str  # IB bar size string, e.g. "15 mins"
    size_s: int
    what_to_show: str
    use_rth: bool
    source: str = REALTIME  # REALTIME or KEEP_UP_TO_DATE


def live_what_to_show(what: str) -> str:
    """What live bars show for a stream: ADJUSTED_LAST is history only (IB streams no such
    bars), so its live bars are the TRADES they adjust."""
    return "TRADES" if what.upper() == "ADJUSTED_LAST" else what


BarHandler = Callable[[StreamKey, Bar, bool], None]  # (stream, closed bar, live)
TickHandler = Callable[[Tick], None]
Emit = Callable[[Bar], None]  # a closed bar out of a BarBuilder


class BarStream:
    """The state of one (contract, bar spec) stream that every bar source keeps."""

    __slots__ = ("builder", "contract", "key", "warming", "warmup")

    def __init__(
        self,
        key: StreamKey,
        contract: Contract,
        tz: tzinfo,
        warmup: str,
        emit: Callable[[Bar], None],
        sub_s: int = RT_BAR_S,
    ) -> None:
        self.key = key
        self.contract = contract
        self.warmup = warmup
        self.builder = BarBuilder(key.symbol, key.size_s, tz, emit, sub_s)
        self.warming = True


class StreamBook:
    """Streams shared by all strategies, their warm-up and their market clock."""

    def __init__(
        self,
        on_bar: BarHandler,
        on_tick: TickHandler | None = None,
        *,
        grace_s: float = 10.0,
    ) -> None:
        self.on_bar = on_bar
        self.on_tick = on_tick
        self.grace = timedelta(seconds=grace_s)
        self.quality = QualityLog()
        self.streams: dict[StreamKey, Any] = {}
        self.last_price: dict[str, float] = {}
        self.clock: datetime | None = None  # end of the newest live bar of any symbol
        self.bars_out = 0
        self.warmup_bars = 0
        self.ticks_out = 0
        self._tick_contracts: dict[str, Contract] = {}
        # symbol -> reqTickByTickData type ("AllLast", "BidAsk", ...); absent: market data
        self.tick_by_tick: dict[str, str] = {}
        self._next_flush: datetime | None = None
        self._started = False
        # Called with the market clock whenever it moves (the daily scan's time source).
        self.clock_listeners: list[Callable[[datetime], None]] = []

    # ---- set-up ---------------------------------------------------------------------------

    def add_bars(
        self,
        symbol: str,
        contract: Contract,
        tz: tzinfo,
        *,
        bar_size: str,
        size_s: int,
        what_to_show: str,
        use_rth: bool,
        warmup: str,
        source: str = REALTIME,
    ) -> StreamKey:
        """Declare a bar stream (idempotent: a second caller shares it, longest warm-up wins);
        ``source``: REALTIME (5-second bars aggregated here) or KEEP_UP_TO_DATE (IB's bars)."""
        if source not in (REALTIME, KEEP_UP_TO_DATE):
            raise ValueError(f"bad bar source {source!r}")
        key = StreamKey(symbol, contract.conId, bar_size, size_s, what_to_show, use_rth, source)
        stream = self.streams.get(key)
        if stream is None:
            self.streams[key] = self._new_stream(key, contract, tz, warmup, self._emitter(key))
        elif duration_seconds(warmup) > duration_seconds(stream.warmup):
            stream.warmup = warmup
        return key

    def _new_stream(
        self, key: StreamKey, contract: Contract, tz: tzinfo, warmup: str, emit: Emit
    ) -> BarStream:
        return BarStream(key, contract, tz, warmup, emit)

    def add_ticks(self, symbol: str, contract: Contract) -> None:
        self._tick_contracts[symbol] = contract

    def add_tick_by_tick(self, symbol: str, contract: Contract, what: str) -> None:
        """Ticks of ``symbol`` from ``reqTickByTickData(what)`` instead of market data (a
        simulated source without it serves its own ticks either way)."""
        self.tick_by_tick[symbol] = what
        self.add_ticks(symbol, contract)

    def _emitter(self, key: StreamKey) -> Callable[[Bar], None]:
        on_bar = self.on_bar

        def emit(bar: Bar) -> None:
            self.bars_out += 1
            on_bar(key, bar, True)

        return emit

    # ---- warm-up ---------------------------------------------------------------------------

    def take_history(
        self, stream: BarStream, bars: list[BarData], now: datetime, *, backfill: bool = False
    ) -> None:
        """Complete bars -> warm-up; the in-progress last one seeds the live builder (a
        keepUpToDate stream: stays with IB, which completes it).

        ``backfill``: the bars of an outage, after the ones already handed on. Each reaches the
        strategies once, in order; one that closed within a bar interval of ``now`` is still
        fresh enough to act on and goes out live, the older ones as warm-up."""
        if self.streams.get(stream.key) is not stream:
            return  # removed while its history was on the way
        builder = stream.builder
        builder.discard_open()
        symbol = stream.key.symbol
        last_start: datetime | None = None
        n = live = 0
        for bd in bars:
            bar = self.history_bar(stream, bd)
            if bar is None:
                continue
            start, end = builder.bucket(bar.time)
            if builder.last_end is not None and start < builder.last_end:
                continue  # already handed on before a reconnect
            if last_start is not None and start <= last_start:
                reason = "duplicate" if start == last_start else "out-of-order"
                self.quality.drop(symbol, reason, "warm-up bar")
                continue
            last_start = start
            bar = Bar(symbol, start, bar.open, bar.high, bar.low, bar.close, bar.volume,
                      int((end - start).total_seconds()))  # fmt: skip
            if end <= now:
                builder.last_end = end
                if backfill and now - end < timedelta(seconds=stream.key.size_s):
                    builder.emit(bar)  # closed just now: live, as if the outage never was
                    live += 1
                    continue
                self.warmup_bars += 1
                n += 1
                self.on_bar(stream.key, bar, False)
            elif stream.key.source == REALTIME:
                builder.seed(bar)  # still in progress: live bars complete it
        what = stream.key.bar_size
        if backfill:
            log.info("%s %s: backfilled %d bars (%d as warm-up, %d live)", symbol, what,
                     n + live, n, live)  # fmt: skip
        elif n:
            log.info("%s %s: %d warm-up bars", symbol, what, n)
        else:
            log.warning("%s %s: IB returned no warm-up bars; its indicators start cold",
                        symbol, what)  # fmt: skip

    def history_bar(self, stream: BarStream, bd: BarData, what: str = "warm-up bar") -> Bar | None:
        symbol = stream.key.symbol
        why = price_problem(bd.open, bd.high, bd.low, bd.close)
        if why is not None:
            self.quality.drop(symbol, why, what)
            return None
        t = bar_time(bd, stream.builder.tz)
        if t is None:
            self.quality.drop(symbol, "bad-time", what)
            return None
        k = stream.key
        return Bar(symbol, t, bd.open, bd.high, bd.low, bd.close, clean_volume(bd.volume), k.size_s)

    # ---- the market clock ------------------------------------------------------------------

    def advance(self, t: datetime) -> None:
        """Move the market clock; close buckets of symbols that went quiet past the grace."""
        clock = self.clock
        if clock is not None and t <= clock:
            return
        self.clock = t
        for listener in self.clock_listeners:
            listener(t)
        nxt = self._next_flush
        if nxt is not None and t < nxt:
            return
        cutoff = t - self.grace
        earliest: datetime | None = None
        for s in self.streams.values():
            if s.warming:
                continue
            s.builder.flush(cutoff)
            end = s.builder.open_end
            if end is not None and (earliest is None or end < earliest):
                earliest = end
        self._next_flush = None if earliest is None else earliest + self.grace

    # ---- figures ---------------------------------------------------------------------------

    def contracts(self) -> list[Contract]:
        """Every contract with a bar or tick subscription."""
        out = {s.key.con_id: s.contract for s in self.streams.values()}
        for c in self._tick_contracts.values():
            out.setdefault(c.conId, c)
        return list(out.values())

    @property
    def started(self) -> bool:
        return self._started

    def stats(self) -> dict[str, Any]:
        return {
            "streams": len(self.streams),
            "warmup_bars": self.warmup_bars,
            "bars": self.bars_out,
            "ticks": self.ticks_out,
            "dropped": self.quality.total,
        }


def bar_time(bd: BarData, tz: tzinfo) -> datetime | None:
    """A history bar's start in UTC; a daily bar's date is the exchange date."""
    t = bd.date
    if isinstance(t, datetime):
        return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
    if isinstance(t, date):
        return datetime(t.year, t.month, t.day, tzinfo=tz).astimezone(UTC)
    return None
