"""One bar stream's ib_insync subscription state, beside what every bar source keeps."""

from __future__ import annotations

from datetime import datetime, tzinfo

from bot.client.ib import BarDataList, Contract, RealTimeBar, RealTimeBarList
from bot.market_data.streams import BarStream, Emit, StreamKey


class IbStream(BarStream):
    """A stream's ib_insync subscription besides the shared state."""

    __slots__ = ("buffer", "covered", "generation", "hist", "last_data", "last_rt", "rt",
                 "subscribed_at")

    def __init__(
        self, key: StreamKey, contract: Contract, tz: tzinfo, warmup: str, emit: Emit
    ) -> None:
        super().__init__(key, contract, tz, warmup, emit)
        self.rt: RealTimeBarList | None = None
        self.hist: BarDataList | None = None  # the keepUpToDate list (source KEEP_UP_TO_DATE)
        self.buffer: list[RealTimeBar] = []
        self.last_rt: datetime | None = None  # start of the last 5-second bar accepted
        # The market data in the builder reaches this far: the history's time, then the end of
        # each 5-second bar taken. A later bar that leaves a hole means an outage.
        self.covered: datetime | None = None
        self.generation = 0  # subscriptions made: a gap's backfill skips a stream made anew
        # For the staleness watchdog (bot/live/watchdog.py), in market time: the newest data seen
        # and the server's time when the subscription was (re)made.
        self.last_data: datetime | None = None
        self.subscribed_at: datetime | None = None


def bars_label(k: StreamKey) -> str:
    """The stream's market-data line, as the operator reads it."""
    return f"{k.symbol} {k.bar_size} bars"
