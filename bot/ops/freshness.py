"""Feed freshness: the wall time since each subscription's last bar (warm-up bars count: they
show the stream works), and whether that is stale: over twice the bar size while the
contract's liquid hours are on."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime

from bot.market_data.streams import StreamKey
from bot.strategy.context import SymbolInfo
from bot.strategy.liquid_hours import liquid_session


@dataclass(frozen=True, slots=True)
class Freshness:
    symbol: str
    bar_size: str
    age_s: float  # wall seconds since its last bar (or since watched, before any)
    limit_s: float  # 2x the bar size
    liquid: bool  # inside the contract's liquid hours now

    @property
    def stale(self) -> bool:
        return self.liquid and self.age_s >= self.limit_s

    @property
    def label(self) -> str:
        return f"{self.symbol} {self.bar_size}"


class BarClock:
    """Wall time of each stream's last bar, fed by the router's observer."""

    def __init__(self, wall: Callable[[], float] = time.monotonic) -> None:
        self.wall = wall
        self.since = wall()  # the age of a stream that has sent nothing yet
        self.last: dict[StreamKey, float] = {}

    def seen(self, key: StreamKey) -> None:
        self.last[key] = self.wall()

    def restart(self) -> None:
        """After a reconnect the streams start over: their age runs from now."""
        self.since = self.wall()
        self.last.clear()

    def report(
        self, keys: Iterable[StreamKey], infos: Mapping[str, SymbolInfo], now: datetime
    ) -> list[Freshness]:
        wall = self.wall()
        return [
            Freshness(k.symbol, k.bar_size, wall - self.last.get(k, self.since), 2.0 * k.size_s,
                      liquid_session(infos.get(k.symbol), now) is not None)
            for k in keys
        ]
