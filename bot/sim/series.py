"""One instrument's source bars as arrays, with the per-bar calendar facts the market needs."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

import numpy as np

from bot.model.price_grid import grid_steps, steps_to_price
from bot.sim.bridge import I64, SUB_SECONDS, TICK_STEP_MS, TICKS_PER_SUB, F
from bot.sim.datafile import SourceBars
from bot.sim.epoch import EPOCH_DAY, NEVER, from_sec, to_sec
from bot.sim.instruments import Instrument

_BLOCK_POINTS = 12_288  # ticks per cached block (256 one-minute bars)


@dataclass(frozen=True, slots=True)
class Series:
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

    def bid_ask(self, price: F) -> tuple[F, F]:
        """Bid/ask around each ``last``: the spread in whole ticks, always containing it."""
        tick = self.inst.min_tick
        width = max(1, int(np.ceil(self.inst.spread / tick - 1e-9)))
        # Half the spread below last, in whole ticks; an odd width puts last on the bid at an
        # even step and on the ask at an odd one (ties to even), so neither side is favoured.
        bid_steps = np.rint(grid_steps(price, tick) - width / 2.0)
        return steps_to_price(bid_steps, tick), steps_to_price(bid_steps + width, tick)

    def last_tick(self, now_ms: int) -> tuple[int, int] | None:
        """(source bar, tick index) of the latest tick at or before ``now_ms``."""
        i = int(np.searchsorted(self.t_ms, now_ms, "left")) - 1
        if i < 0:
            return None
        k = TICKS_PER_SUB * self.n_sub
        if self.end_ms[i] <= now_ms:
            return i, k - 1
        j = (now_ms - int(self.t_ms[i])) // TICK_STEP_MS - 1
        if j >= 0:
            return i, j
        return (i - 1, k - 1) if i > 0 else None


def build_series(inst: Instrument, order: int, sb: SourceBars) -> Series:
    t = sb.time
    offset, tday, trade_start, liq_start, liq_end = _calendar(inst, t)
    # A daily bar starts at its session's open and its ticks run over that session.
    span = int((liq_end - liq_start).min()) if sb.daily else sb.bar_seconds
    n_sub = span // SUB_SECONDS
    return Series(
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
    offs = [from_sec(int(h) * 3600).astimezone(inst.tz).utcoffset() for h in hours.tolist()]
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
    """Session (start, end) epoch seconds for each day number; (NEVER, NEVER) if closed."""
    starts, ends = [], []
    for d in days.tolist():
        day = EPOCH_DAY + timedelta(days=d)
        bounds = inst.liquid_session(day) if liquid else inst.trading_session(day)
        starts.append(to_sec(bounds[0]) if bounds else NEVER)
        ends.append(to_sec(bounds[1]) if bounds else NEVER)
    return np.array(starts, np.int64), np.array(ends, np.int64)


def series_of(series: dict[int, Series], con_id: int) -> Series:
    """``con_id``'s series; a KeyError that names it when there is no data for it."""
    try:
        return series[con_id]
    except KeyError:
        raise KeyError(f"no market data for conId {con_id}") from None
