"""Data shared by the simulated market, the matching engine and the gateway."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class SimTick:
    """One price point of the simulated market: a trade and the quote around it.

    The market turns every bar into a short path of these (open, extremes, close); the
    matching engine fills against them and the gateway streams them, so a backtest and the
    gateway see the very same prices.
    """

    time: datetime
    con_id: int
    last: float
    last_size: float
    bid: float
    ask: float
    bid_size: float
    ask_size: float
