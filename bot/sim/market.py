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
"""

from __future__ import annotations

import gc
import logging
from array import array
from collections import OrderedDict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np
from ib_insync import BarData, RealTimeBar

from bot.model.price_grid import grid_steps, round_array_to_tick, steps_to_price
from bot.sim import bars as B
from bot.sim.bridge import (
    I64,
    SUB_SECONDS,
    TICK_STEP_MS,
    TICKS_PER_SUB,
    F,
    Paths,
    bar_keys,
    bar_paths,
)
from bot.sim.datafile import DataFileError, SourceBars, find_file, read_bars
from bot.sim.instruments import Instrument, Instruments
from bot.sim.recording import is_recording, recorded_bars
from bot.sim.types import SimTick

log = logging.getLogger(__name__)

EPOCH_DAY = date(1970, 1, 1)
_BLOCK_POINTS = 12_288  # ticks per cached block (256 one-minute bars)
_CACHE_BLOCKS = 160
_CHUNK_MS = 2 * 3600 * 1000  # ticks() builds and caches merged ticks per 2 hours
_CACHE_CHUNKS = 3
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


@dataclass(frozen=True, slots=True)
class ReplayBars:
    """One instrument's source bars as compact arrays (epoch seconds) for a replay loop:
    indexing gives plain Python numbers, at 8 bytes a value instead of a list's 32."""

    start: array[int]
    end: array[int]
    open: array[float]
    high: array[float]
    low: array[float]
    close: array[float]
    volume: array[float]  # 0 for MIDPOINT/BID/ASK
    liquid: array[int]  # 1: the bar starts inside the liquid (regular) session
    bar_s: int


@dataclass(frozen=True, slots=True)
class _Series:
    """One symbol's source bars plus the per-bar calendar facts the queries need."""

    inst: Instrument
    order: int  # position among instruments: tie-break for ticks at equal times
    bar_s: int  # the source bar size (a day for daily bars)
    daily: bool  # one bar per trading day, its ticks over the regular session
    n_sub: int  # 5-second steps each bar's ticks span
    t: I64
    end: I64
    t_ms: I64
    end_ms: I64
    o: F
    h: F
    lo: F
    c: F
    v: F
    offset: I64  # exchange UTC offset (s) at each bar
    tday: I64  # trading day (days since 1970-01-01) of each bar
    trade_start: I64  # the bar's trading day's full session start (s)
    liq_start: I64
    liq_end: I64
    lot: float
    block: int  # source bars per cached tick block
    aligned: bool  # bar starts are multiples of the bar size in exchange time

    @property
    def rth(self) -> np.ndarray:
        """Bars that overlap the liquid session."""
        return (self.t < self.liq_end) & (self.end > self.liq_start)


class Market:
    def __init__(self, instruments: Instruments, series: dict[int, _Series], seed: int) -> None:
        self.instruments = instruments
        self.seed = seed
        self._series = series
        self._cache: OrderedDict[tuple[int, int], Paths] = OrderedDict()
        self._chunks: OrderedDict[int, tuple[I64, list[SimTick]]] = OrderedDict()

    # ---- loading -------------------------------------------------------------------------

    @classmethod
    def load(
        cls,
        data_dir: Path | str,
        instruments: Instruments,
        seed: int,
        bar_seconds: int | None = None,
    ) -> Market:
        """One file per instrument, named by local symbol (AAPL.csv.gz, EUR.USD.csv.gz), or
        the store layout (AAPL/1min.parquet: the ``bar_seconds`` file, else the finest), or a
        recorded session (bot/sim/recording.py)."""
        data_dir = Path(data_dir)
        if not data_dir.is_dir():
            raise DataFileError(f"{data_dir}: market data directory not found")
        recording = is_recording(data_dir)
        series: dict[int, _Series] = {}
        for order, inst in enumerate(instruments):
            if recording:
                bars = recorded_bars(data_dir, inst, bar_seconds)
            else:
                path = find_file(data_dir, inst.local_symbol, bar_seconds)
                bars = None if path is None else read_bars(path, inst)
            if bars is None:  # a recording holds only the symbols its session traded
                say = log.debug if recording else log.warning
                say("no market data for %s in %s", inst.local_symbol, data_dir)
                continue
            series[inst.con_id] = _build_series(inst, order, bars)
        if not series:
            names = ", ".join(f"{i.local_symbol}.csv.gz" for i in list(instruments)[:3])
            raise DataFileError(f"{data_dir}: no market data files (expected e.g. {names})")
        return cls(instruments, series, seed)

    @classmethod
    def from_bars(cls, instruments: Instruments, bars: dict[int, SourceBars], seed: int) -> Market:
        """A market over bars already in memory (keyed by conId), e.g. for tests."""
        order = {inst.con_id: n for n, inst in enumerate(instruments)}
        series = {
            cid: _build_series(instruments.by_con_id(cid), order[cid], sb)
            for cid, sb in bars.items()
        }
        return cls(instruments, series, seed)

    # ---- basics --------------------------------------------------------------------------

    def con_ids(self) -> list[int]:
        """Instruments that have data, in instruments-file order."""
        return sorted(self._series, key=lambda cid: self._series[cid].order)

    def has_data(self, con_id: int) -> bool:
        return con_id in self._series

    def bar_seconds(self, con_id: int) -> int:
        return self._get(con_id).bar_s

    def first_time(self) -> datetime:
        return _dt(min(int(s.t[0]) for s in self._series.values()))

    def last_time(self) -> datetime:
        """End of the last source bar (its close prints then)."""
        return _dt(max(int(s.end[-1]) for s in self._series.values()))

    def _get(self, con_id: int) -> _Series:
        try:
            return self._series[con_id]
        except KeyError:
            raise KeyError(f"no market data for conId {con_id}") from None

    # ---- derived paths -------------------------------------------------------------------

    def _block(self, s: _Series, b: int) -> Paths:
        key = (s.inst.con_id, b)
        paths = self._cache.get(key)
        if paths is not None:
            self._cache.move_to_end(key)
            return paths
        sl = slice(b * s.block, (b + 1) * s.block)
        keys = bar_keys(self.seed, s.inst.con_id, s.t[sl])
        paths = bar_paths(
            s.o[sl], s.h[sl], s.lo[sl], s.c[sl], s.v[sl], s.n_sub, keys, s.inst.min_tick, s.lot
        )
        self._cache[key] = paths
        if len(self._cache) > _CACHE_BLOCKS:
            self._cache.popitem(last=False)
        return paths

    def _paths(self, s: _Series, i0: int, i1: int) -> Paths:
        """Tick paths of source bars [i0, i1), each array shaped (i1 - i0, K)."""
        parts = []
        for b in range(i0 // s.block, (i1 - 1) // s.block + 1):
            p = self._block(s, b)
            lo, hi = max(i0 - b * s.block, 0), min(i1 - b * s.block, s.block)
            parts.append(Paths(p.price[lo:hi], p.size[lo:hi], p.bid_size[lo:hi], p.ask_size[lo:hi]))
        if len(parts) == 1:
            return parts[0]
        return Paths(*(np.concatenate([getattr(p, f) for p in parts]) for f in _PATH_FIELDS))

    def _bid_ask(self, s: _Series, price: F) -> tuple[F, F]:
        tick = s.inst.min_tick
        width = max(1, int(np.ceil(s.inst.spread / tick - 1e-9)))
        # Half the spread below last, in whole ticks; an odd width puts last on the bid at an
        # even step and on the ask at an odd one (ties to even), so neither side is favoured.
        bid_steps = np.rint(grid_steps(price, tick) - width / 2.0)
        return steps_to_price(bid_steps, tick), steps_to_price(bid_steps + width, tick)

    # ---- ticks ---------------------------------------------------------------------------

    def ticks(self, t0: datetime, t1: datetime) -> Iterator[SimTick]:
        """Every instrument's ticks with t0 < time <= t1, ordered by time then instrument.

        Ticks are built a fixed-grid chunk at a time (all instruments merged, cached), so a
        replay that asks for a few seconds at a time only slices ready-made lists.
        """
        a, b = _ms(t0), _ms(t1)
        while a < b:
            chunk = a // _CHUNK_MS
            nxt = min(b, (chunk + 1) * _CHUNK_MS)
            times, ticks = self._tick_chunk(chunk)
            lo = int(np.searchsorted(times, a, "right"))
            hi = int(np.searchsorted(times, nxt, "right"))
            yield from ticks[lo:hi]
            a = nxt

    def ticks_of(self, con_ids: Iterable[int], t0: datetime, t1: datetime) -> list[SimTick]:
        """The ticks of ``con_ids`` alone with t0 < time <= t1, ordered as ``ticks`` orders
        them (a backtest that needs only the instruments with working orders)."""
        a, b = _ms(t0), _ms(t1)
        cols: list[tuple[np.ndarray, ...]] = []
        for cid in con_ids:
            s = self._series.get(cid)
            if s is None:
                continue
            i0 = int(np.searchsorted(s.end_ms, a, "right"))
            i1 = int(np.searchsorted(s.t_ms, b, "left"))
            if i0 < i1:
                cols.append(self._series_ticks(s, i0, i1, a, b))
        return _merge_ticks(cols)[1] if cols else []

    def opening_tick(self, con_id: int, after: datetime) -> SimTick | None:
        """The first tick of ``con_id`` after ``after`` when it is a bar's first one (the
        order arrived on a bar boundary), built without the bar's path: the path starts at
        the bar's open by construction, so this is the tick ``ticks_of`` would give, but for
        its sizes (NaN here: use it only where sizes do not matter). None otherwise."""
        s = self._series.get(con_id)
        if s is None:
            return None
        a = _ms(after)
        i = int(np.searchsorted(s.end_ms, a, "right"))
        if i >= len(s.t_ms) or s.t_ms[i] < a:
            return None  # no more data, or the next tick is inside a bar
        price = np.array([s.o[i]])
        bid, ask = self._bid_ask(s, price)
        t = _dt_ms(int(s.t_ms[i]) + int(_TICK_OFFSETS_MS[0]))
        return SimTick(t, con_id, float(price[0]), NAN, float(bid[0]), float(ask[0]), NAN, NAN)

    def price_range(self, con_id: int, t0: datetime, t1: datetime) -> tuple[float, float] | None:
        """Lowest low and highest high of the source bars with ticks in (t0, t1] (every tick
        there lies between them: the paths never leave a bar's range); None: no tick."""
        s = self._series.get(con_id)
        if s is None:
            return None
        i0 = int(np.searchsorted(s.end_ms, _ms(t0), "right"))
        i1 = int(np.searchsorted(s.t_ms, _ms(t1), "left"))
        if i0 >= i1:
            return None
        return float(s.lo[i0:i1].min()), float(s.h[i0:i1].max())

    def last_at(self, con_id: int, now: datetime) -> float | None:
        """The last trade price at ``now``: a bar's close when one ends there (no path
        needed), else the latest tick's (None: no tick yet)."""
        s = self._series.get(con_id)
        if s is None:
            return None
        ms = _ms(now)
        i = int(np.searchsorted(s.end_ms, ms, "left"))
        if i < len(s.end_ms) and s.end_ms[i] == ms:
            return float(s.c[i])
        at = self._last_tick(s, ms)
        if at is None:
            return None
        i, j = at  # the price alone: quote() would also add up the whole day so far
        return float(self._paths(s, i, i + 1).price[0, j])

    def _tick_chunk(self, chunk: int) -> tuple[I64, list[SimTick]]:
        """All ticks with time in (chunk * _CHUNK_MS, (chunk + 1) * _CHUNK_MS], merged."""
        cached = self._chunks.get(chunk)
        if cached is not None:
            self._chunks.move_to_end(chunk)
            return cached
        a, b = chunk * _CHUNK_MS, (chunk + 1) * _CHUNK_MS
        cols: list[tuple[np.ndarray, ...]] = []
        for s in self._series.values():
            i0 = int(np.searchsorted(s.end_ms, a, "right"))
            i1 = int(np.searchsorted(s.t_ms, b, "left"))
            if i0 < i1:
                cols.append(self._series_ticks(s, i0, i1, a, b))
        merged = _merge_ticks(cols) if cols else (np.zeros(0, np.int64), [])
        self._chunks[chunk] = merged
        if len(self._chunks) > _CACHE_CHUNKS:
            self._chunks.popitem(last=False)
        return merged

    def _series_ticks(self, s: _Series, i0: int, i1: int, a: int, b: int) -> tuple[np.ndarray, ...]:
        """Columns of one instrument's ticks from bars [i0, i1) with time in (a, b]."""
        p = self._paths(s, i0, i1)
        times = (s.t_ms[i0:i1, None] + _TICK_OFFSETS_MS[: p.price.shape[1]]).ravel()
        keep = (times > a) & (times <= b)
        price = p.price.ravel()[keep]
        bid, ask = self._bid_ask(s, price)
        n = len(price)
        return (
            times[keep],
            np.full(n, s.order),
            np.full(n, s.inst.con_id),
            price,
            p.size.ravel()[keep],
            bid,
            ask,
            p.bid_size.ravel()[keep],
            p.ask_size.ravel()[keep],
        )

    # ---- 5-second bars -------------------------------------------------------------------

    def _sub_bars(self, s: _Series, i0: int, i1: int, upto_ms: int | None = None) -> B.BarArrays:
        """5-second bars of source bars [i0, i1), cut at ``upto_ms`` (the last may be partial)."""
        if i0 >= i1:
            return _EMPTY
        p = self._paths(s, i0, i1)
        k = p.price.shape[1]
        times = s.t_ms[i0:i1, None] + _TICK_OFFSETS_MS[:k]
        parent = np.repeat(np.arange(i0, i1), k)
        price, size, times = p.price.ravel(), p.size.ravel(), times.ravel()
        if upto_ms is not None:
            keep = times <= upto_ms
            price, size, times, parent = price[keep], size[keep], times[keep], parent[keep]
        if not len(price):
            return _EMPTY
        tick_no = np.tile(np.arange(k), i1 - i0)[: len(price)]
        sub_start = s.t[parent] + (tick_no // TICKS_PER_SUB) * SUB_SECONDS
        ticks = B.BarArrays(
            time=sub_start,
            open=price,
            high=price,
            low=price,
            close=price,
            volume=size,
            wap=price,
            count=(size > 0).astype(np.int64),
            parent=parent,
        )
        return B.group(ticks, sub_start)[1]

    def five_second_bars(
        self, con_id: int, t0: datetime, t1: datetime, what_to_show: str = "TRADES"
    ) -> list[RealTimeBar]:
        """reqRealTimeBars: 5-second bars lying wholly in (t0, t1]; time = bar start."""
        s = self._get(con_id)
        a, b = _sec(t0), _sec(t1)
        i0 = int(np.searchsorted(s.end, a, "right"))
        i1 = int(np.searchsorted(s.t, b, "left"))
        sub = self._sub_bars(s, i0, i1)
        sub = sub.take((sub.time >= a) & (sub.time + SUB_SECONDS <= b))
        sub = self._show(s, sub, B.check_what_to_show(what_to_show))
        return [
            RealTimeBar(
                time=_dt(t),
                endTime=-1,
                open_=o,
                high=h,
                low=lo,
                close=c,
                volume=v,
                wap=w,
                count=n,
            )
            for t, o, h, lo, c, v, w, n in zip(
                sub.time.tolist(),
                sub.open.tolist(),
                sub.high.tolist(),
                sub.low.tolist(),
                sub.close.tolist(),
                sub.volume.tolist(),
                sub.wap.tolist(),
                sub.count.tolist(),
                strict=True,
            )
        ]

    def _show(self, s: _Series, bars: B.BarArrays, what: str) -> B.BarArrays:
        """Map TRADES bars to MIDPOINT/BID/ASK: bid and ask are monotone in last, so a bar's
        extremes map to the extremes of the quote. Non-trade bars carry volume -1 as IB's do.
        ADJUSTED_LAST is TRADES: the synthetic sample has no dividends or splits to adjust for."""
        if what in ("TRADES", B.ADJUSTED_LAST):
            return bars
        maps = []
        for col in (bars.open, bars.high, bars.low, bars.close):
            bid, ask = self._bid_ask(s, col)
            mid = round_array_to_tick((bid + ask) / 2.0, s.inst.min_tick / 2.0)  # half ticks
            maps.append(bid if what == "BID" else ask if what == "ASK" else mid)
        minus = np.full(len(bars), -1.0)
        return B.BarArrays(
            time=bars.time,
            open=maps[0],
            high=maps[1],
            low=maps[2],
            close=maps[3],
            volume=minus,
            wap=minus,
            count=minus.astype(np.int64),
            parent=bars.parent,
        )

    def source_bars(self, con_id: int, what_to_show: str = "TRADES") -> ReplayBars:
        """Every source bar of ``con_id`` as ``what_to_show`` shows it: what a backtest
        replays. 5-second bars built from them would add up to them exactly (the tick paths
        pass through each bar's open, high, low and close, and their sizes sum to its volume)."""
        s = self._get(con_id)
        n = len(s.t)
        bars = B.BarArrays(
            s.t, s.o, s.h, s.lo, s.c, s.v, s.c, np.zeros(n, np.int64), np.arange(n)
        )
        shown = self._show(s, bars, B.check_what_to_show(what_to_show))
        liquid = (s.t >= s.liq_start) & (s.t < s.liq_end)
        return ReplayBars(
            _arr("q", s.t), _arr("q", s.end), _arr("d", shown.open), _arr("d", shown.high),
            _arr("d", shown.low), _arr("d", shown.close), _arr("d", np.maximum(shown.volume, 0)),
            _arr("b", liquid), s.bar_s,
        )  # fmt: skip

    # ---- historical bars -----------------------------------------------------------------

    def historical_bars(
        self,
        con_id: int,
        end: datetime,
        duration: str,
        bar_size: str,
        what_to_show: str,
        use_rth: bool,
        now: datetime,
    ) -> list[BarData]:
        """reqHistoricalData. Bars end at min(end, now); the last may be in progress.

        Intraday bars are aligned to multiples of their size in exchange time (a bucket cut
        by the session start is dated at the session start, as IB does: 09:30, 10:00, 11:00
        for hourly RTH bars) and dated as UTC datetimes; daily bars are per trading day and
        dated with that ``date``. "N D" counts trading days with data, W/M/Y count calendar
        time back from the end. MIDPOINT/BID/ASK bars carry volume, average and count -1.
        """
        size = B.parse_bar_size(bar_size)
        dur = B.Duration.parse(duration)
        what = B.check_what_to_show(what_to_show, historical=True)
        s = self._get(con_id)
        end_ms = _ms(min(end, now))
        i1 = int(np.searchsorted(s.t_ms, end_ms, "left"))  # source bars begun by then
        first_day, start_s = None, _NEVER
        if dur.unit == "D":
            first_day = self._first_day(s, i1, dur.count, use_rth)
            if first_day is None:
                return []
            i0 = int(np.searchsorted(s.tday, first_day, "left"))
        else:
            start_s = _sec(dur.calendar_start(_dt_ms(end_ms)))
            i0 = int(np.searchsorted(s.end, start_s, "right"))
            if size == B.DAY and i0 < len(s.t):  # daily bars: whole days only
                first_day, start_s = int(s.tday[i0]), _NEVER
                i0 = int(np.searchsorted(s.tday, first_day, "left"))
        base = self._base_bars(s, i0, i1, size, end_ms)
        keep = base.time >= start_s
        if first_day is not None:
            keep &= s.tday[base.parent] >= first_day
        if use_rth:
            keep &= (base.time >= s.liq_start[base.parent]) & (base.time < s.liq_end[base.parent])
        base = base.take(keep)
        if not len(base):
            return []
        dates, bars = _group_bars(s, base, size, use_rth)
        bars = self._show(s, bars, what)
        return [
            BarData(date=d, open=o, high=h, low=lo, close=c, volume=v, average=w, barCount=n)
            for d, o, h, lo, c, v, w, n in zip(
                dates,
                bars.open.tolist(),
                bars.high.tolist(),
                bars.low.tolist(),
                bars.close.tolist(),
                bars.volume.tolist(),
                bars.wap.tolist(),
                bars.count.tolist(),
                strict=True,
            )
        ]

    def _first_day(self, s: _Series, i1: int, n: int, use_rth: bool) -> int | None:
        """The earliest of the last ``n`` trading days with data among bars [0, i1)."""
        days = s.tday[:i1][s.rth[:i1]] if use_rth else s.tday[:i1]
        days = np.unique(days)
        if not len(days):
            return None
        return int(days[max(0, len(days) - n)])

    def _base_bars(self, s: _Series, i0: int, i1: int, size: int, end_ms: int) -> B.BarArrays:
        """What the requested bars are built from: whole source bars when the bar size is
        a multiple of them (fast path; daily source bars only make daily bars), else derived
        5-second bars; the bar in progress at ``end_ms`` is cut there."""
        if i0 >= i1:
            return _EMPTY
        whole_bars = size == B.DAY if s.daily else size % s.bar_s == 0 and s.aligned
        if not whole_bars:
            return self._sub_bars(s, i0, i1, end_ms)
        done = i0 + int(np.searchsorted(s.end_ms[i0:i1], end_ms, "right"))
        whole = B.BarArrays(
            time=s.t[i0:done],
            open=s.o[i0:done],
            high=s.h[i0:done],
            low=s.lo[i0:done],
            close=s.c[i0:done],
            volume=s.v[i0:done],
            wap=(s.h[i0:done] + s.lo[i0:done] + s.c[i0:done]) / 3.0,
            count=np.minimum(s.v[i0:done], TICKS_PER_SUB * s.n_sub).astype(np.int64),
            parent=np.arange(i0, done),
        )
        if done == i1:
            return whole
        partial = self._sub_bars(s, done, i1, end_ms)
        if not len(partial):
            return whole
        _, partial = B.group(partial, np.zeros(len(partial), np.int64))
        return B.BarArrays.concat([whole, partial])

    def head_timestamp(self, con_id: int, what_to_show: str, use_rth: bool) -> datetime:
        """reqHeadTimeStamp: the start of the earliest bar available."""
        B.check_what_to_show(what_to_show, historical=True)
        s = self._get(con_id)
        if use_rth:
            first = np.flatnonzero(s.rth)
            if len(first):
                i = int(first[0])
                return _dt(max(int(s.t[i]), int(s.liq_start[i])))
        return _dt(int(s.t[0]))

    # ---- quotes and day statistics -------------------------------------------------------

    def _last_tick(self, s: _Series, now_ms: int) -> tuple[int, int] | None:
        """(source bar, tick index) of the latest tick at or before ``now_ms``."""
        i = int(np.searchsorted(s.t_ms, now_ms, "left")) - 1
        if i < 0:
            return None
        k = TICKS_PER_SUB * s.n_sub
        if s.end_ms[i] <= now_ms:
            return i, k - 1
        j = (now_ms - int(s.t_ms[i])) // TICK_STEP_MS - 1
        if j >= 0:
            return i, j
        return (i - 1, k - 1) if i > 0 else None

    def quote(self, con_id: int, now: datetime) -> Quote:
        """reqMktData: the latest tick at or before ``now`` and today's session so far."""
        s = self._get(con_id)
        stats = self.trading_day_stats(con_id, now)
        at = self._last_tick(s, _ms(now))
        if at is None:
            return Quote(con_id, now, *([NAN] * 11))
        i, j = at
        p = self._paths(s, i, i + 1)
        bid, ask = self._bid_ask(s, p.price[0, j : j + 1])
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
        s = self._get(con_id)
        at = self._last_tick(s, _ms(now))
        if at is None:
            return DayStats(con_id, now, NAN, NAN, NAN, NAN, NAN, NAN)
        i, j = at
        p = self._paths(s, i, i + 1)
        price, size = p.price[0, : j + 1], p.size[0, : j + 1]
        d0 = int(np.searchsorted(s.tday, s.tday[i], "left"))
        rth = s.rth
        today_rth = np.flatnonzero(rth[d0 : i + 1])
        before_rth = np.flatnonzero(rth[:d0])
        prev = int(before_rth[-1]) if len(before_rth) else d0 - 1
        return DayStats(
            con_id=con_id,
            time=_dt_ms(int(s.t_ms[i]) + TICK_STEP_MS * (j + 1)),
            last=float(price[-1]),
            prev_close=float(s.c[prev]) if prev >= 0 else NAN,
            open=float(s.o[d0 + int(today_rth[0])] if len(today_rth) else s.o[d0]),
            high=float(max(s.h[d0:i].max(initial=-np.inf), price.max())),
            low=float(min(s.lo[d0:i].min(initial=np.inf), price.min())),
            volume=float(s.v[d0:i].sum() + size.sum()),
        )


# ---- module helpers ------------------------------------------------------------------------

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NEVER = -(2**62)
_PATH_FIELDS = ("price", "size", "bid_size", "ask_size")
_TICK_OFFSETS_MS = TICK_STEP_MS * np.arange(1, 4 * 17280 + 1, dtype=np.int64)  # up to 1-day bars
_NONE_F = np.zeros(0)
_NONE_I = np.zeros(0, np.int64)
_EMPTY = B.BarArrays(
    _NONE_I, _NONE_F, _NONE_F, _NONE_F, _NONE_F, _NONE_F, _NONE_F, _NONE_I, _NONE_I
)


def _merge_ticks(cols: list[tuple[np.ndarray, ...]]) -> tuple[I64, list[SimTick]]:
    """Concatenate per-instrument tick columns and order them by (time, instrument)."""
    tm, order, *rest = (np.concatenate(c) for c in zip(*cols, strict=True))
    idx = np.lexsort((order, tm))
    times = tm[idx]
    uniq, inv = np.unique(times, return_inverse=True)
    stamps = [_dt_ms(x) for x in uniq.tolist()]  # one datetime per instant, shared
    cid, last, size, bid, ask, bsz, asz = (col[idx].tolist() for col in rest)
    # Hundreds of thousands of new objects would trigger repeated full GC passes over
    # them; none of them can form a cycle, so collection is paused while building.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        ticks = [
            SimTick(stamps[k], *fields)
            for k, *fields in zip(inv.tolist(), cid, last, size, bid, ask, bsz, asz, strict=True)
        ]
    finally:
        if was_enabled:
            gc.enable()
    return times, ticks


def _arr(code: str, values: np.ndarray) -> array[Any]:
    out = array(code)
    out.frombytes(np.ascontiguousarray(values, dtype=_DTYPES[code]).tobytes())
    return out


_DTYPES: dict[str, type[np.generic]] = {"q": np.int64, "d": np.float64, "b": np.int8}


def _ms(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(milliseconds=1)


def _sec(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(seconds=1)


def _dt(sec: int) -> datetime:
    return _EPOCH + timedelta(seconds=sec)


def _dt_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)


def _group_bars(
    s: _Series, bars: B.BarArrays, size: int, use_rth: bool
) -> tuple[list[date | datetime], B.BarArrays]:
    """Aggregate base bars into the requested size; returns (IB dates, bars)."""
    if size == B.DAY:
        _, out = B.group(bars, s.tday[bars.parent])
        days = s.tday[out.parent].tolist()
        return [EPOCH_DAY + timedelta(days=d) for d in days], out
    offset = s.offset[bars.parent]
    _, out = B.group(bars, (bars.time + offset) // size)
    off = s.offset[out.parent]
    start = (out.time + off) // size * size - off
    session = (s.liq_start if use_rth else s.trade_start)[out.parent]
    return [_dt(x) for x in np.maximum(start, session).tolist()], out


def _build_series(inst: Instrument, order: int, sb: SourceBars) -> _Series:
    t = sb.time
    offset, tday, trade_start, liq_start, liq_end = _calendar(inst, t)
    # A daily bar starts at its session's open and its ticks run over that session.
    span = int((liq_end - liq_start).min()) if sb.daily else sb.bar_seconds
    n_sub = span // SUB_SECONDS
    return _Series(
        inst=inst,
        order=order,
        bar_s=sb.bar_seconds,
        daily=sb.daily,
        n_sub=n_sub,
        t=t,
        end=t + span,
        t_ms=t * 1000,
        end_ms=(t + span) * 1000,
        o=sb.open,
        h=sb.high,
        lo=sb.low,
        c=sb.close,
        v=sb.volume,
        offset=offset,
        tday=tday,
        trade_start=trade_start,
        liq_start=liq_start,
        liq_end=liq_end,
        lot=100.0 if inst.sec_type == "STK" else 100_000.0,
        block=max(1, _BLOCK_POINTS // (TICKS_PER_SUB * n_sub)),
        aligned=not sb.daily and bool(np.all((t + offset) % sb.bar_seconds == 0)),
    )


def _calendar(inst: Instrument, t: I64) -> tuple[I64, I64, I64, I64, I64]:
    """Per bar: exchange UTC offset, trading day, and that day's session bounds (epoch s).

    Offsets are computed once per distinct UTC hour (zone changes fall on whole hours) and
    sessions once per distinct day, so this stays cheap for years of minute bars.
    """
    hours, h_inv = np.unique(t // 3600, return_inverse=True)
    offs = [_dt(int(h) * 3600).astimezone(inst.tz).utcoffset() for h in hours.tolist()]
    offset = np.array([o.total_seconds() if o else 0 for o in offs], np.int64)[h_inv]
    local_day = (t + offset) // 86400
    days, d_inv = np.unique(local_day, return_inverse=True)
    same, nxt = (_session_arrays(inst, days + k, liquid=False) for k in (0, 1))
    in_same = (t >= same[0][d_inv]) & (t < same[1][d_inv])
    in_next = (t >= nxt[0][d_inv]) & (t < nxt[1][d_inv])
    tday = np.where(in_same, local_day, np.where(in_next, local_day + 1, local_day))
    tdays, t_inv = np.unique(tday, return_inverse=True)
    trade = _session_arrays(inst, tdays, liquid=False)
    liquid = _session_arrays(inst, tdays, liquid=True)
    return offset, tday, trade[0][t_inv], liquid[0][t_inv], liquid[1][t_inv]


def _session_arrays(inst: Instrument, days: I64, liquid: bool) -> tuple[I64, I64]:
    """Session (start, end) epoch seconds for each day number; (_NEVER, _NEVER) if closed."""
    starts, ends = [], []
    for d in days.tolist():
        day = EPOCH_DAY + timedelta(days=d)
        bounds = inst.liquid_session(day) if liquid else inst.trading_session(day)
        starts.append(_sec(bounds[0]) if bounds else _NEVER)
        ends.append(_sec(bounds[1]) if bounds else _NEVER)
    return np.array(starts, np.int64), np.array(ends, np.int64)
