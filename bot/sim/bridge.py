"""Deterministic price paths inside a bar: a Brownian bridge pinned to open, high, low, close.

Each source bar becomes ``K = 4 * n_sub`` price points (4 ticks per 5-second sub-bar). Random
numbers come from a counter-based hash of (seed, con_id, bar time, draw index), not from a
stateful generator, so any bar's path is the same whichever window asked for it and in which
order: random access is reproducible by construction, and whole blocks of bars are generated
in one vectorized pass.

Construction: anchors at index 0 (open), two distinct interior indices (high and low, in a
random order) and K-1 (close); straight lines between anchors plus a Brownian bridge that is
zero at every anchor, squashed with tanh into the room left below the high and above the low.
So the path passes exactly through O, H, L, C and never leaves [L, H].
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from bot.model.price_grid import round_array_to_tick

F = npt.NDArray[np.float64]
I64 = npt.NDArray[np.int64]
U64 = npt.NDArray[np.uint64]

TICKS_PER_SUB = 4
SUB_SECONDS = 5
TICK_STEP_MS = SUB_SECONDS * 1000 // TICKS_PER_SUB  # 1250 ms: ticks at +1.25, +2.5, +3.75, +5 s

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_NOISE = 0.5  # bridge step scale, as a fraction of the bar range per sqrt(K)


def _mix(x: U64) -> U64:
    """splitmix64 finalizer; uint64 arrays wrap silently, which is what a hash wants."""
    x = x + _GOLDEN
    x = (x ^ (x >> np.uint64(30))) * _M1
    x = (x ^ (x >> np.uint64(27))) * _M2
    return x ^ (x >> np.uint64(31))


def bar_keys(seed: int, con_id: int, bar_times: I64) -> U64:
    """One 64-bit key per source bar, from (seed, con_id, bar start in epoch seconds)."""
    base = _mix(np.array([seed & 0xFFFFFFFFFFFFFFFF], dtype=np.uint64))
    base = _mix(base ^ np.uint64(con_id & 0xFFFFFFFFFFFFFFFF))
    return _mix(base ^ bar_times.astype(np.uint64))


def uniforms(keys: U64, n: int) -> F:
    """An (len(keys), n) array of uniforms in the open interval (0, 1)."""
    counters = np.arange(1, n + 1, dtype=np.uint64) * _GOLDEN
    bits = _mix(keys[:, None] ^ counters[None, :]) >> np.uint64(11)
    return (bits.astype(np.float64) + 0.5) * (1.0 / (1 << 53))


@dataclass(frozen=True, slots=True)
class Paths:
    """Tick-level paths for a block of bars, each array shaped (bars, K)."""

    price: F
    size: F
    bid_size: F
    ask_size: F


def bridge_paths(o: F, h: F, lo: F, c: F, k: int, keys: U64, tick: float | None = None) -> F:
    """(bars, k) price points through each bar's open, high, low and close; k >= 4."""
    n = len(o)
    u = uniforms(keys, 2 * k + 3)
    # Two distinct interior anchor indices in [1, k-2].
    a = 1 + np.floor(u[:, 0] * (k - 2)).astype(np.int64)
    b = 1 + np.floor(u[:, 1] * (k - 3)).astype(np.int64)
    b = b + (b >= a)
    i1, i2 = np.minimum(a, b), np.maximum(a, b)
    # Up-bars tend to make their low first, down-bars their high.
    p_high_first = np.where(c > o, 0.35, np.where(c < o, 0.65, 0.5))
    high_first = u[:, 2] < p_high_first
    v1, v2 = np.where(high_first, h, lo), np.where(high_first, lo, h)

    idx = np.stack([np.zeros(n, np.int64), i1, i2, np.full(n, k - 1, np.int64)], axis=1)
    val = np.stack([o, v1, v2, c], axis=1)
    j = np.arange(k)[None, :]
    seg = (j >= i1[:, None]).astype(np.int64) + (j >= i2[:, None])
    seg = np.minimum(seg, 2)
    ia, ib = np.take_along_axis(idx, seg, 1), np.take_along_axis(idx, seg + 1, 1)
    va, vb = np.take_along_axis(val, seg, 1), np.take_along_axis(val, seg + 1, 1)
    frac = (j - ia) / (ib - ia)
    line = va + (vb - va) * frac

    # Box-Muller normals -> random walk -> bridge pinned to zero at every anchor.
    z = np.sqrt(-2.0 * np.log(u[:, 3 : 3 + k])) * np.cos(2.0 * np.pi * u[:, 3 + k : 3 + 2 * k])
    walk = np.cumsum(z, axis=1) * ((h - lo) * _NOISE / math.sqrt(k))[:, None]
    wa, wb = np.take_along_axis(walk, ia, 1), np.take_along_axis(walk, ib, 1)
    d = walk - wa - (wb - wa) * frac

    up, down = h[:, None] - line, line - lo[:, None]
    with np.errstate(divide="ignore", invalid="ignore"):
        rise = np.where(up > 0, up * np.tanh(d / up), 0.0)
        fall = np.where(down > 0, -down * np.tanh(-d / down), 0.0)
    path = line + np.where(d > 0, rise, fall)
    if tick:
        path = round_array_to_tick(path, tick)
    path = np.clip(path, lo[:, None], h[:, None])
    np.put_along_axis(path, idx, val, 1)  # anchors exact, whatever the rounding did
    return path


def split_volume(v: F, k: int, keys: U64) -> F:
    """(bars, k) sizes summing exactly to each bar's volume (whole units when it is whole)."""
    w = 0.25 + uniforms(keys ^ np.uint64(0x5A5A5A5A), k)
    cum = np.cumsum(w, axis=1)
    cum = cum / cum[:, -1:]
    cum[:, -1] = 1.0
    whole = np.all(v == np.round(v))
    scaled = v[:, None] * cum
    if whole:
        scaled = np.round(scaled)
    sizes: F = np.diff(scaled, axis=1, prepend=0.0)
    return sizes


def quote_sizes(k: int, keys: U64, lot: float) -> tuple[F, F]:
    """Bid and ask sizes: 1 to 10 lots."""
    u = uniforms(keys ^ np.uint64(0xA5A5A5A5), 2 * k)
    sizes = lot * (1.0 + np.floor(u * 10.0))
    return sizes[:, :k], sizes[:, k:]


def bar_paths(
    o: F, h: F, lo: F, c: F, v: F, n_sub: int, keys: U64, tick: float | None, lot: float
) -> Paths:
    k = TICKS_PER_SUB * n_sub
    bid_size, ask_size = quote_sizes(k, keys, lot)
    return Paths(
        price=bridge_paths(o, h, lo, c, k, keys, tick),
        size=split_volume(v, k, keys),
        bid_size=bid_size,
        ask_size=ask_size,
    )
