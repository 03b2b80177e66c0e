"""The price grid: one rounding rule for the bot's orders, the strategy context, the simulated
market's prices and quotes, and the simulated broker's fills, so a price one part rounds is
always a price another accepts.

A price on the grid of ``tick`` is ``n * tick`` for an integer ``n`` (its *steps*), written as
the float nearest to that decimal number: 150.05, not 150.04999999999998. Steps are rounded
three ways: ``nearest`` (ties to the even step, as Python's ``round`` and numpy's ``rint``),
``up`` and ``down`` (a price within a millionth of a step of the grid counts as on it, so float
noise never moves a price a whole tick). The scalar and the array forms do the same IEEE float
operations in the same order, so they agree bit for bit. A tick <= 0 means no grid.
"""

from __future__ import annotations

import math
from decimal import Decimal
from functools import lru_cache
from typing import Literal

import numpy as np
import numpy.typing as npt

F = npt.NDArray[np.float64]
Rounding = Literal["nearest", "up", "down"]

GRID_TOLERANCE = 1e-6  # in steps: how far from the grid float noise can put a grid price


@lru_cache(maxsize=256)
def tick_decimals(tick: float) -> int:
    """Decimal places of the tick as written (0.25 -> 2, 1/32 -> 5, 5e-05 -> 5); every
    multiple of it has at most as many."""
    exponent = Decimal(repr(tick)).normalize().as_tuple().exponent
    return max(0, -exponent) if isinstance(exponent, int) else 0


def _steps(x: float, how: Rounding) -> float:
    if how == "nearest":
        return float(round(x))
    if how == "up":
        return float(math.ceil(x - GRID_TOLERANCE))
    return float(math.floor(x + GRID_TOLERANCE))


def round_to_tick(price: float, tick: float, how: Rounding = "nearest") -> float:
    """``price`` moved to the tick grid (nearest, up or down), without binary-float residue."""
    if tick <= 0:
        return price
    scale = float(10 ** tick_decimals(tick))
    return float(round(_steps(price / tick, how) * tick * scale)) / scale


def round_array_to_tick(x: F, tick: float, how: Rounding = "nearest") -> F:
    """:func:`round_to_tick` on every element of ``x``, bit-identical to the scalar form."""
    if tick <= 0:
        return np.asarray(x, dtype=np.float64)
    return steps_to_price(grid_steps(x, tick, how), tick)


def grid_steps(x: F, tick: float, how: Rounding = "nearest") -> F:
    """Whole numbers of ticks (as floats) of the grid prices that ``x`` rounds to; tick > 0."""
    q = np.asarray(x, dtype=np.float64) / tick
    if how == "nearest":
        return np.rint(q)
    if how == "up":
        return np.ceil(q - GRID_TOLERANCE)
    return np.floor(q + GRID_TOLERANCE)


def steps_to_price(steps: F, tick: float) -> F:
    """The grid prices ``steps * tick`` (steps whole), written without float residue."""
    scale = float(10 ** tick_decimals(tick))
    result: F = np.rint(steps * tick * scale) / scale
    return result


def on_tick_grid(price: float, tick: float) -> bool:
    """True if ``price`` is a multiple of ``tick`` (within float noise)."""
    steps = price / tick
    return abs(steps - round(steps)) < GRID_TOLERANCE
