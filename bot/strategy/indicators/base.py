"""What an indicator is to the engine: a spec that builds an incremental updater for live
trading and computes the same values vectorized for backtests (equal to 1e-9)."""

from __future__ import annotations

from typing import Any, Protocol

import pandas as pd


class Incremental(Protocol):
    """Stateful, O(1) per bar whatever the history length."""

    def update(self, high: float, low: float, close: float, volume: float) -> Any:
        """Feed one closed bar; return the current value (NaN fields while warming up)."""
        ...


class IndicatorSpec(Protocol):
    """An indicator with its parameters, e.g. ``MACD(12, 26, 9)``."""

    @property
    def outputs(self) -> tuple[str, ...]:
        """Names of the value's fields; a single-output indicator has one and yields a float."""
        ...

    @property
    def warmup(self) -> int:
        """Bars needed before the value is defined."""
        ...

    def incremental(self) -> Incremental: ...

    def batch(self, bars: pd.DataFrame) -> pd.DataFrame:
        """Columns ``outputs``, same index as ``bars`` (columns open, high, low, close, volume)."""
        ...
