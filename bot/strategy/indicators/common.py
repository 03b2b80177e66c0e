"""What every concrete indicator spec shares: naming, the NaN value, the batch frame."""

from __future__ import annotations

from typing import Any, ClassVar

import numpy as np
import pandas as pd

NAN = float("nan")


def check_int(name: str, value: object, minimum: int = 1) -> None:
    """Parameters often come from YAML, so say which one is wrong and why."""
    if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")


class SpecBase:
    """Mixin for the frozen-dataclass specs. Subclasses set ``_OUTPUTS`` (and ``_VALUE`` when
    the value is a NamedTuple) and implement ``name``, ``warmup``, ``incremental``, ``_compute``."""

    __slots__ = ()
    _OUTPUTS: ClassVar[tuple[str, ...]]
    _VALUE: ClassVar[Any] = None  # NamedTuple class of a multi-output indicator

    @property
    def name(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.name

    @property
    def outputs(self) -> tuple[str, ...]:
        return self._OUTPUTS

    def nan(self) -> Any:
        """The value while warming up: NaN, or the NamedTuple with every field NaN."""
        if self._VALUE is None:
            return NAN
        return self._VALUE(*(NAN for _ in self._OUTPUTS))

    def batch(self, bars: pd.DataFrame) -> pd.DataFrame:
        cols = {c: bars[c].to_numpy(dtype="float64") for c in ("high", "low", "close")}
        values = self._compute(cols["high"], cols["low"], cols["close"])
        return pd.DataFrame({k: values[k] for k in self._OUTPUTS}, index=bars.index)

    def _compute(
        self, high: np.ndarray, low: np.ndarray, close: np.ndarray
    ) -> dict[str, np.ndarray]:
        raise NotImplementedError
