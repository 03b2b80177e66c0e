"""Bars derived from the tick paths (5-second bars) and their MIDPOINT/BID/ASK views."""

from __future__ import annotations

import numpy as np

from bot.model.price_grid import round_array_to_tick
from bot.sim import bars as B
from bot.sim.bridge import SUB_SECONDS, TICKS_PER_SUB
from bot.sim.path_cache import TICK_OFFSETS_MS, PathCache
from bot.sim.series import Series

_NONE_F = np.zeros(0)
_NONE_I = np.zeros(0, np.int64)
EMPTY = B.BarArrays(_NONE_I, _NONE_F, _NONE_F, _NONE_F, _NONE_F, _NONE_F, _NONE_F, _NONE_I, _NONE_I)


def sub_bars(
    paths: PathCache, s: Series, i0: int, i1: int, upto_ms: int | None = None
) -> B.BarArrays:
    """5-second bars of source bars [i0, i1), cut at ``upto_ms`` (the last may be partial)."""
    if i0 >= i1:
        return EMPTY
    p = paths.paths(s, i0, i1)
    k = p.price.shape[1]
    times = s.t_ms[i0:i1, None] + TICK_OFFSETS_MS[:k]
    parent = np.repeat(np.arange(i0, i1), k)
    price, size, times = p.price.ravel(), p.size.ravel(), times.ravel()
    if upto_ms is not None:
        keep = times <= upto_ms
        price, size, times, parent = price[keep], size[keep], times[keep], parent[keep]
    if not len(price):
        return EMPTY
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


def show(s: Series, bars: B.BarArrays, what: str) -> B.BarArrays:
    """Map TRADES bars to MIDPOINT/BID/ASK: bid and ask are monotone in last, so a bar's
    extremes map to the extremes of the quote. Non-trade bars carry volume -1 as IB's do.
    ADJUSTED_LAST is TRADES: the synthetic sample has no dividends or splits to adjust for."""
    if what in ("TRADES", B.ADJUSTED_LAST):
        return bars
    maps = []
    for col in (bars.open, bars.high, bars.low, bars.close):
        bid, ask = s.bid_ask(col)
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
