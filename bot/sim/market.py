"""The simulated market: source bars per symbol, and everything finer derived from them.

Ticks and 5-second bars come from a seeded Brownian bridge through each source bar's
open/high/low/close (``bot.sim.bridge``); every derived number is a pure function of
(seed, con_id, source bar), so replay is reproducible and independent of how the time range is
sliced. A source bar starting at T yields its ticks in (T, T + bar size]: its close prints at
the bar's end, so a clock stepped to a bar's end has seen the whole bar. A daily source bar
starts at its trading day's regular-session open (bot/sim/datafile.py) and its ticks run over
that session: its open prints just after the open, its close at the close.

Bid/ask are ``last`` -/+ half the instrument's spread on the tick grid: the spread is
``ceil(spread / min_tick)`` ticks wide and always contains ``last``.

The parts: ``loading`` (files -> ``series``: per-instrument arrays and calendar),
``path_cache`` (tick paths per block of bars), ``tick_chunks`` (merged ticks), ``history``
(bar requests, via ``derived_bars``); this module holds the replay's ticks, prices and quotes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

from bot.sim.bridge import TICK_STEP_MS
from bot.sim.datafile import SourceBars
from bot.sim.epoch import from_ms, from_sec, to_ms
from bot.sim.history import History
from bot.sim.instruments import Instruments
from bot.sim.loading import load_series, series_from_bars
from bot.sim.path_cache import TICK_OFFSETS_MS, PathCache
from bot.sim.series import Series, series_of
from bot.sim.tick_chunks import CHUNK_MS, TickChunks, merged_ticks
from bot.sim.types import SimTick

NAN = float("nan")


@dataclass(frozen=True, slots=True)
class DayStats:
    """Today's session so far, as the scanner ranks it. NaN where there is no data yet."""

    con_id: int
    time: datetime
    last: float
    prev_close: float
    open: float
    high: float
    low: float
    volume: float

    @property
    def change_pct(self) -> float:
        return (self.last / self.prev_close - 1.0) * 100.0

    @property
    def gap_pct(self) -> float:
        return (self.open / self.prev_close - 1.0) * 100.0


@dataclass(frozen=True, slots=True)
class Quote:
    """A reqMktData snapshot: last trade, top of book and today's session statistics."""

    con_id: int
    time: datetime
    last: float
    last_size: float
    bid: float
    ask: float
    bid_size: float
    ask_size: float
    open: float
    high: float
    low: float
    prev_close: float
    volume: float


class Market:
    """The replay's ticks, prices and quotes; ``history`` answers the bar requests."""

    def __init__(self, instruments: Instruments, series: dict[int, Series], seed: int) -> None:
        self.instruments = instruments
        self.seed = seed
        self._series = series
        self._paths = PathCache(seed)
        self._chunks = TickChunks(series, self._paths)
        self.history = History(series, self._paths)

    @classmethod
    def load(
        cls,
        data_dir: Path | str,
        instruments: Instruments,
        seed: int,
        bar_seconds: int | None = None,
    ) -> Market:
        """The market over ``data_dir``'s files (``bot.sim.loading.load_series``)."""
        return cls(instruments, load_series(data_dir, instruments, bar_seconds), seed)

    @classmethod
    def from_bars(cls, instruments: Instruments, bars: dict[int, SourceBars], seed: int) -> Market:
        """A market over bars already in memory (keyed by conId), e.g. for tests."""
        return cls(instruments, series_from_bars(instruments, bars), seed)

    # ---- basics --------------------------------------------------------------------------

    def con_ids(self) -> list[int]:
        """Instruments that have data, in instruments-file order."""
        return sorted(self._series, key=lambda cid: self._series[cid].order)

    def has_data(self, con_id: int) -> bool:
        return con_id in self._series

    def bar_seconds(self, con_id: int) -> int:
        return series_of(self._series, con_id).bar_s

    def first_time(self) -> datetime:
        return from_sec(min(int(s.t[0]) for s in self._series.values()))

    def last_time(self) -> datetime:
        """End of the last source bar (its close prints then)."""
        return from_sec(max(int(s.end[-1]) for s in self._series.values()))

    # ---- ticks ---------------------------------------------------------------------------

    def ticks(self, t0: datetime, t1: datetime) -> Iterator[SimTick]:
        """Every instrument's ticks with t0 < time <= t1, ordered by time then instrument.

        Ticks are built a fixed-grid chunk at a time (all instruments merged, cached), so a
        replay that asks for a few seconds at a time only slices ready-made lists.
        """
        a, b = to_ms(t0), to_ms(t1)
        while a < b:
            chunk = a // CHUNK_MS
            nxt = min(b, (chunk + 1) * CHUNK_MS)
            times, ticks = self._chunks.get(chunk)
            lo = int(np.searchsorted(times, a, "right"))
            hi = int(np.searchsorted(times, nxt, "right"))
            yield from ticks[lo:hi]
            a = nxt

    def ticks_of(self, con_ids: Iterable[int], t0: datetime, t1: datetime) -> list[SimTick]:
        """The ticks of ``con_ids`` alone with t0 < time <= t1, ordered as ``ticks`` orders
        them (a backtest that needs only the instruments with working orders)."""
        series = (self._series[cid] for cid in con_ids if cid in self._series)
        return merged_ticks(self._paths, series, to_ms(t0), to_ms(t1))[1]

    def opening_tick(self, con_id: int, after: datetime) -> SimTick | None:
        """The first tick of ``con_id`` after ``after`` when it is a bar's first one (the
        order arrived on a bar boundary), built without the bar's path: the path starts at
        the bar's open by construction, so this is the tick ``ticks_of`` would give, but for
        its sizes (NaN here: use it only where sizes do not matter). None otherwise."""
        s = self._series.get(con_id)
        if s is None:
            return None
        a = to_ms(after)
        i = int(np.searchsorted(s.end_ms, a, "right"))
        if i >= len(s.t_ms) or s.t_ms[i] < a:
            return None  # no more data, or the next tick is inside a bar
        price = np.array([s.o[i]])
        bid, ask = s.bid_ask(price)
        t = from_ms(int(s.t_ms[i]) + int(TICK_OFFSETS_MS[0]))
        return SimTick(t, con_id, float(price[0]), NAN, float(bid[0]), float(ask[0]), NAN, NAN)

    def price_range(self, con_id: int, t0: datetime, t1: datetime) -> tuple[float, float] | None:
        """Lowest low and highest high of the source bars with ticks in (t0, t1] (every tick
        there lies between them: the paths never leave a bar's range); None: no tick."""
        s = self._series.get(con_id)
        if s is None:
            return None
        i0 = int(np.searchsorted(s.end_ms, to_ms(t0), "right"))
        i1 = int(np.searchsorted(s.t_ms, to_ms(t1), "left"))
        if i0 >= i1:
            return None
        return float(s.lo[i0:i1].min()), float(s.h[i0:i1].max())

    def last_at(self, con_id: int, now: datetime) -> float | None:
        """The last trade price at ``now``: a bar's close when one ends there (no path
        needed), else the latest tick's (None: no tick yet)."""
        s = self._series.get(con_id)
        if s is None:
            return None
        ms = to_ms(now)
        i = int(np.searchsorted(s.end_ms, ms, "left"))
        if i < len(s.end_ms) and s.end_ms[i] == ms:
            return float(s.c[i])
        at = s.last_tick(ms)
        if at is None:
            return None
        i, j = at  # the price alone: quote() would also add up the whole day so far
        return float(self._paths.paths(s, i, i + 1).price[0, j])

    # ---- quotes and day statistics -------------------------------------------------------

    def quote(self, con_id: int, now: datetime) -> Quote:
        """reqMktData: the latest tick at or before ``now`` and today's session so far."""
        s = series_of(self._series, con_id)
        stats = self.trading_day_stats(con_id, now)
        at = s.last_tick(to_ms(now))
        if at is None:
            return Quote(con_id, now, *([NAN] * 11))
        i, j = at
        p = self._paths.paths(s, i, i + 1)
        bid, ask = s.bid_ask(p.price[0, j : j + 1])
        return Quote(
            con_id=con_id,
            time=stats.time,
            last=float(p.price[0, j]),
            last_size=float(p.size[0, j]),
            bid=float(bid[0]),
            ask=float(ask[0]),
            bid_size=float(p.bid_size[0, j]),
            ask_size=float(p.ask_size[0, j]),
            open=stats.open,
            high=stats.high,
            low=stats.low,
            prev_close=stats.prev_close,
            volume=stats.volume,
        )

    def trading_day_stats(self, con_id: int, now: datetime) -> DayStats:
        """Scanner input: the trading day of the latest tick, up to ``now``.

        ``open`` is the first regular-session price of the day (the first price when the day
        has no regular-session bar yet); ``prev_close`` the last regular-session close before
        the day. High, low and volume cover the whole day so far.
        """
        s = series_of(self._series, con_id)
        at = s.last_tick(to_ms(now))
        if at is None:
            return DayStats(con_id, now, NAN, NAN, NAN, NAN, NAN, NAN)
        i, j = at
        p = self._paths.paths(s, i, i + 1)
        price, size = p.price[0, : j + 1], p.size[0, : j + 1]
        d0 = int(np.searchsorted(s.tday, s.tday[i], "left"))
        rth = s.rth
        today_rth = np.flatnonzero(rth[d0 : i + 1])
        before_rth = np.flatnonzero(rth[:d0])
        prev = int(before_rth[-1]) if len(before_rth) else d0 - 1
        return DayStats(
            con_id=con_id,
            time=from_ms(int(s.t_ms[i]) + TICK_STEP_MS * (j + 1)),
            last=float(price[-1]),
            prev_close=float(s.c[prev]) if prev >= 0 else NAN,
            open=float(s.o[d0 + int(today_rth[0])] if len(today_rth) else s.o[d0]),
            high=float(max(s.h[d0:i].max(initial=-np.inf), price.max())),
            low=float(min(s.lo[d0:i].min(initial=np.inf), price.min())),
            volume=float(s.v[d0:i].sum() + size.sum()),
        )
