"""The live indicators of one (symbol, bar spec): one shared updater per distinct spec, fed
each closed bar, with the last few values kept so strategies can look ``ago`` bars back."""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator
from typing import Any

from bot.model.events import Bar
from bot.strategy.indicators.base import Incremental, IndicatorSpec

DEFAULT_HISTORY = 3


class IndicatorSet:
    """Specs are frozen dataclasses, so two strategies declaring ``MACD(12,26,9)`` share one
    updater. ``history`` is how many values are kept (``ago`` up to ``history - 1``)."""

    __slots__ = ("_bars", "_entries")

    def __init__(self) -> None:
        self._entries: dict[IndicatorSpec, _Entry] = {}
        self._bars = 0

    def add(self, spec: IndicatorSpec, *, history: int = DEFAULT_HISTORY) -> None:
        """Declare ``spec`` (idempotent); the kept history is the largest any caller asked for.

        Must happen before the first bar: a late updater would lag the others' history."""
        if history < 1:
            raise ValueError(f"history must be >= 1, got {history}")
        entry = self._entries.get(spec)
        if entry is None:
            if self._bars:
                raise RuntimeError(f"cannot add {spec} after {self._bars} bars were fed")
            self._entries[spec] = _Entry(spec.incremental(), history)
        elif history > entry.history:
            entry.history = history
            entry.values = deque(entry.values, maxlen=history)

    def update(self, high: float, low: float, close: float, volume: float) -> None:
        """Feed one closed bar to every updater."""
        self._bars += 1
        for entry in self._entries.values():
            entry.values.append(entry.updater.update(high, low, close, volume))

    def on_bar(self, bar: Bar) -> None:
        self.update(bar.high, bar.low, bar.close, bar.volume)

    def value(self, spec: IndicatorSpec, ago: int = 0) -> Any:
        """The value ``ago`` closed bars back; the spec's NaN value before enough bars."""
        entry = self._entries[spec]
        if not 0 <= ago < entry.history:
            raise IndexError(
                f"{spec}: ago={ago} is outside the {entry.history} values kept; "
                "ask for more history when adding it"
            )
        if ago >= len(entry.values):
            return _nan_of(spec)
        return entry.values[-1 - ago]

    @property
    def bars(self) -> int:
        """Closed bars fed so far."""
        return self._bars

    @property
    def warmup(self) -> int:
        """Bars needed before every indicator in the set is defined."""
        return max((spec.warmup for spec in self._entries), default=0)

    def history(self, spec: IndicatorSpec) -> int:
        return self._entries[spec].history

    def __contains__(self, spec: object) -> bool:
        return spec in self._entries

    def __iter__(self) -> Iterator[IndicatorSpec]:
        return iter(self._entries)

    def __len__(self) -> int:
        return len(self._entries)


class _Entry:
    __slots__ = ("history", "updater", "values")

    def __init__(self, updater: Incremental, history: int) -> None:
        self.updater = updater
        self.history = history
        self.values: deque[Any] = deque(maxlen=history)


def _nan_of(spec: IndicatorSpec) -> Any:
    nan = getattr(spec, "nan", None)
    return nan() if callable(nan) else float("nan")
