"""reqHistoricalData, reqHeadTimeStamp and reqRealTimeBars answered from the source bars,
and the source bars as a backtest replays them."""

from __future__ import annotations

from array import array
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

import numpy as np
from ib_insync import BarData, RealTimeBar

from bot.sim import bars as B
from bot.sim.bridge import SUB_SECONDS, TICKS_PER_SUB
from bot.sim.derived_bars import EMPTY, show, sub_bars
from bot.sim.epoch import EPOCH_DAY, NEVER, from_ms, from_sec, to_ms, to_sec
from bot.sim.path_cache import PathCache
from bot.sim.series import Series, series_of


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


class History:
    """Bars of any size over the source bars; finer than them, built from the tick paths."""

    def __init__(self, series: dict[int, Series], paths: PathCache) -> None:
        self._series = series
        self._paths = paths

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
        s = series_of(self._series, con_id)
        end_ms = to_ms(min(end, now))
        i1 = int(np.searchsorted(s.t_ms, end_ms, "left"))  # source bars begun by then
        first_day, start_s = None, NEVER
        if dur.unit == "D":
            first_day = _first_day(s, i1, dur.count, use_rth)
            if first_day is None:
                return []
            i0 = int(np.searchsorted(s.tday, first_day, "left"))
        else:
            start_s = to_sec(dur.calendar_start(from_ms(end_ms)))
            i0 = int(np.searchsorted(s.end, start_s, "right"))
            if size == B.DAY and i0 < len(s.t):  # daily bars: whole days only
                first_day, start_s = int(s.tday[i0]), NEVER
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
        bars = show(s, bars, what)
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

    def _base_bars(self, s: Series, i0: int, i1: int, size: int, end_ms: int) -> B.BarArrays:
        """What the requested bars are built from: whole source bars when the bar size is
        a multiple of them (fast path; daily source bars only make daily bars), else derived
        5-second bars; the bar in progress at ``end_ms`` is cut there."""
        if i0 >= i1:
            return EMPTY
        whole_bars = size == B.DAY if s.daily else size % s.bar_s == 0 and s.aligned
        if not whole_bars:
            return sub_bars(self._paths, s, i0, i1, end_ms)
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
        partial = sub_bars(self._paths, s, done, i1, end_ms)
        if not len(partial):
            return whole
        _, partial = B.group(partial, np.zeros(len(partial), np.int64))
        return B.BarArrays.concat([whole, partial])

    def head_timestamp(self, con_id: int, what_to_show: str, use_rth: bool) -> datetime:
        """reqHeadTimeStamp: the start of the earliest bar available."""
        B.check_what_to_show(what_to_show, historical=True)
        s = series_of(self._series, con_id)
        if use_rth:
            first = np.flatnonzero(s.rth)
            if len(first):
                i = int(first[0])
                return from_sec(max(int(s.t[i]), int(s.liq_start[i])))
        return from_sec(int(s.t[0]))

    def five_second_bars(
        self, con_id: int, t0: datetime, t1: datetime, what_to_show: str = "TRADES"
    ) -> list[RealTimeBar]:
        """reqRealTimeBars: 5-second bars lying wholly in (t0, t1]; time = bar start."""
        s = series_of(self._series, con_id)
        a, b = to_sec(t0), to_sec(t1)
        i0 = int(np.searchsorted(s.end, a, "right"))
        i1 = int(np.searchsorted(s.t, b, "left"))
        sub = sub_bars(self._paths, s, i0, i1)
        sub = sub.take((sub.time >= a) & (sub.time + SUB_SECONDS <= b))
        sub = show(s, sub, B.check_what_to_show(what_to_show))
        return [
            RealTimeBar(
                time=from_sec(t),
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

    def source_bars(self, con_id: int, what_to_show: str = "TRADES") -> ReplayBars:
        """Every source bar of ``con_id`` as ``what_to_show`` shows it: what a backtest
        replays. 5-second bars built from them would add up to them exactly (the tick paths
        pass through each bar's open, high, low and close, and their sizes sum to its volume)."""
        s = series_of(self._series, con_id)
        n = len(s.t)
        bars = B.BarArrays(s.t, s.o, s.h, s.lo, s.c, s.v, s.c, np.zeros(n, np.int64), np.arange(n))
        shown = show(s, bars, B.check_what_to_show(what_to_show))
        liquid = (s.t >= s.liq_start) & (s.t < s.liq_end)
        return ReplayBars(
            _arr("q", s.t), _arr("q", s.end), _arr("d", shown.open), _arr("d", shown.high),
            _arr("d", shown.low), _arr("d", shown.close), _arr("d", np.maximum(shown.volume, 0)),
            _arr("b", liquid), s.bar_s,
        )  # fmt: skip


def _first_day(s: Series, i1: int, n: int, use_rth: bool) -> int | None:
    """The earliest of the last ``n`` trading days with data among bars [0, i1)."""
    days = s.tday[:i1][s.rth[:i1]] if use_rth else s.tday[:i1]
    days = np.unique(days)
    if not len(days):
        return None
    return int(days[max(0, len(days) - n)])


def _group_bars(
    s: Series, bars: B.BarArrays, size: int, use_rth: bool
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
    return [from_sec(x) for x in np.maximum(start, session).tolist()], out


_DTYPES: dict[str, type[np.generic]] = {"q": np.int64, "d": np.float64, "b": np.int8}


def _arr(code: str, values: np.ndarray) -> array[Any]:
    out = array(code)
    out.frombytes(np.ascontiguousarray(values, dtype=_DTYPES[code]).tobytes())
    return out
