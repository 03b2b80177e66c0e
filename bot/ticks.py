"""The price grid: one rounding rule for the bot's orders and the simulated broker's fills, so a
price the bot rounds is always a price the broker accepts."""

from __future__ import annotations

import math


def round_to_tick(price: float, tick: float) -> float:
    """Nearest price on the tick grid, without binary-float residue (150.05, not 150.04999...)."""
    if tick <= 0:
        return price
    decimals = max(0, -math.floor(math.log10(tick)) + 2)
    return round(round(price / tick) * tick, decimals)
