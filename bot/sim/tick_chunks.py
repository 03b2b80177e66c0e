"""Ticks of many instruments merged into one time-ordered list of SimTicks."""

from __future__ import annotations

import gc
from collections import OrderedDict
from collections.abc import Iterable

import numpy as np

from bot.sim.bridge import I64
from bot.sim.epoch import from_ms
from bot.sim.path_cache import TICK_OFFSETS_MS, PathCache
from bot.sim.series import Series
from bot.sim.types import SimTick

CHUNK_MS = 2 * 3600 * 1000  # merged ticks are built and cached per 2 hours
_CACHE_CHUNKS = 3


class TickChunks:
    """All instruments' merged ticks per fixed-grid chunk, cached, so a replay that asks for
    a few seconds at a time only slices ready-made lists."""

    def __init__(self, series: dict[int, Series], paths: PathCache) -> None:
        self._series = series
        self._paths = paths
        self._chunks: OrderedDict[int, tuple[I64, list[SimTick]]] = OrderedDict()

    def get(self, chunk: int) -> tuple[I64, list[SimTick]]:
        """All ticks with time in (chunk * CHUNK_MS, (chunk + 1) * CHUNK_MS], merged."""
        cached = self._chunks.get(chunk)
        if cached is not None:
            self._chunks.move_to_end(chunk)
            return cached
        merged = merged_ticks(
            self._paths, self._series.values(), chunk * CHUNK_MS, (chunk + 1) * CHUNK_MS
        )
        self._chunks[chunk] = merged
        if len(self._chunks) > _CACHE_CHUNKS:
            self._chunks.popitem(last=False)
        return merged


def merged_ticks(
    paths: PathCache, series: Iterable[Series], a: int, b: int
) -> tuple[I64, list[SimTick]]:
    """(times, ticks) of ``series`` with time in (a, b] ms, ordered by time then instrument."""
    cols: list[tuple[np.ndarray, ...]] = []
    for s in series:
        i0 = int(np.searchsorted(s.end_ms, a, "right"))
        i1 = int(np.searchsorted(s.t_ms, b, "left"))
        if i0 < i1:
            cols.append(_series_ticks(paths, s, i0, i1, a, b))
    return _merge(cols) if cols else (np.zeros(0, np.int64), [])


def _series_ticks(
    paths: PathCache, s: Series, i0: int, i1: int, a: int, b: int
) -> tuple[np.ndarray, ...]:
    """Columns of one instrument's ticks from bars [i0, i1) with time in (a, b]."""
    p = paths.paths(s, i0, i1)
    times = (s.t_ms[i0:i1, None] + TICK_OFFSETS_MS[: p.price.shape[1]]).ravel()
    keep = (times > a) & (times <= b)
    price = p.price.ravel()[keep]
    bid, ask = s.bid_ask(price)
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


def _merge(cols: list[tuple[np.ndarray, ...]]) -> tuple[I64, list[SimTick]]:
    """Concatenate per-instrument tick columns and order them by (time, instrument)."""
    tm, order, *rest = (np.concatenate(c) for c in zip(*cols, strict=True))
    idx = np.lexsort((order, tm))
    times = tm[idx]
    uniq, inv = np.unique(times, return_inverse=True)
    stamps = [from_ms(x) for x in uniq.tolist()]  # one datetime per instant, shared
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
