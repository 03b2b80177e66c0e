"""Tick paths of source bars, generated a block of bars at a time and kept in an LRU cache."""

from __future__ import annotations

from collections import OrderedDict

import numpy as np

from bot.sim.bridge import TICK_STEP_MS, Paths, bar_keys, bar_paths
from bot.sim.series import Series

_CACHE_BLOCKS = 160
_PATH_FIELDS = ("price", "size", "bid_size", "ask_size")
# Each tick's time after its bar's start, for bars up to a day long.
TICK_OFFSETS_MS = TICK_STEP_MS * np.arange(1, 4 * 17280 + 1, dtype=np.int64)


class PathCache:
    """Every derived number is a pure function of (seed, con_id, source bar), so a block's
    paths are the same whichever query built them first."""

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self._blocks: OrderedDict[tuple[int, int], Paths] = OrderedDict()

    def paths(self, s: Series, i0: int, i1: int) -> Paths:
        """Tick paths of source bars [i0, i1), each array shaped (i1 - i0, K)."""
        parts = []
        for b in range(i0 // s.block, (i1 - 1) // s.block + 1):
            p = self._block(s, b)
            lo, hi = max(i0 - b * s.block, 0), min(i1 - b * s.block, s.block)
            parts.append(Paths(p.price[lo:hi], p.size[lo:hi], p.bid_size[lo:hi], p.ask_size[lo:hi]))
        if len(parts) == 1:
            return parts[0]
        return Paths(*(np.concatenate([getattr(p, f) for p in parts]) for f in _PATH_FIELDS))

    def _block(self, s: Series, b: int) -> Paths:
        key = (s.inst.con_id, b)
        paths = self._blocks.get(key)
        if paths is not None:
            self._blocks.move_to_end(key)
            return paths
        sl = slice(b * s.block, (b + 1) * s.block)
        keys = bar_keys(self.seed, s.inst.con_id, s.t[sl])
        paths = bar_paths(
            s.o[sl], s.h[sl], s.lo[sl], s.c[sl], s.v[sl], s.n_sub, keys, s.inst.min_tick, s.lot
        )
        self._blocks[key] = paths
        if len(self._blocks) > _CACHE_BLOCKS:
            self._blocks.popitem(last=False)
        return paths
