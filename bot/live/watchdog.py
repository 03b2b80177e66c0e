"""Staleness watchdog: a bar stream silent for too long during its contract's liquid hours is
resubscribed (and backfilled); one that stays silent pauses entries on its symbol (the risk
manager's REDUCING hold "stale data" of the account for that symbol, transient: a restart
subscribes afresh).

Silence is measured in the server's time (``reqCurrentTime``), from the newest data the stream
delivered or, if none came since, from when it was subscribed: the same rule holds for a live
account, a replay at 400x and a test stepping a manual clock. The daemon calls ``check`` with
the server's time every few wall seconds, and only while the supervisor expects data (not
while the socket or IB's servers are down, nor while a market-data farm is broken).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from bot.market_data.streams import StreamKey
from bot.risk.states import EntryPauses
from bot.strategy.context import SymbolInfo
from bot.strategy.liquid_hours import liquid_session

log = logging.getLogger(__name__)

STALE = "stale data"


@dataclass(frozen=True, slots=True)
class WatchdogSettings:
    stale_bars: float = 2.0  # silence longer than this many bar intervals is stale
    pause_after: int = 3  # resubscriptions in a row without data, then entries pause
    poll_s: float = 5.0  # wall seconds between checks


class StaleWatchdog:
    """Per-stream silence tracking (see module doc)."""

    def __init__(
        self,
        streams: Callable[[], Mapping[StreamKey, Any]],
        infos: Mapping[str, SymbolInfo],
        risk: EntryPauses,
        restart: Callable[[list[StreamKey]], Awaitable[None]],
        settings: WatchdogSettings | None = None,
    ) -> None:
        """``streams()``: the feed's streams (``last_data``, ``subscribed_at``, ``warming``)."""
        self.streams = streams
        self.infos = infos
        self.risk = risk
        self.restart = restart
        self.settings = settings or WatchdogSettings()
        self.strikes: dict[StreamKey, int] = {}
        self.resubscribes = 0

    async def check(self, now: datetime) -> list[StreamKey]:
        """Resubscribe the streams that are stale at ``now``; the ones resubscribed."""
        stale = []
        for key, stream in list(self.streams().items()):
            if stream.warming:
                continue
            last = _latest(stream.last_data, stream.subscribed_at)
            if last is None or self._recovered(key, stream, now):
                continue
            silence = self._liquid_silence(key.symbol, last, now)
            limit = timedelta(seconds=self.settings.stale_bars * key.size_s)
            if silence is not None and silence > limit:
                stale.append(key)
                self._strike(key, silence, now)
        if stale:
            self.resubscribes += len(stale)
            await self.restart(stale)
        return stale

    def _recovered(self, key: StreamKey, stream: Any, now: datetime) -> bool:
        """Data arrived after the last resubscription: forget the strikes, lift a pause."""
        if key not in self.strikes:
            return False
        data = stream.last_data
        if data is None or stream.subscribed_at is None or data <= stream.subscribed_at:
            return False
        del self.strikes[key]
        log.info("%s %s: data flowing again", key.symbol, key.bar_size)
        self.risk.clear(STALE, now=now, symbol=key.symbol)
        return True

    def _strike(self, key: StreamKey, silence: timedelta, now: datetime) -> None:
        n = self.strikes[key] = self.strikes.get(key, 0) + 1
        log.warning("%s %s: no data for %s during liquid hours; resubscribing (%d in a row)",
                    key.symbol, key.bar_size, _text(silence), n)  # fmt: skip
        if n >= self.settings.pause_after:
            self.risk.pause_entries(
                STALE, f"{STALE} on {key.symbol}: {key.bar_size} bars silent for "
                f"{_text(silence)} after {n} resubscriptions", now=now, symbol=key.symbol,
                transient=True,
            )  # fmt: skip

    def _liquid_silence(self, symbol: str, last: datetime, now: datetime) -> timedelta | None:
        """The silence within the liquid session holding ``now`` (None: not liquid now);
        contracts without known sessions count as always liquid."""
        session = liquid_session(self.infos.get(symbol), now)
        return None if session is None else now - max(last, session[0])


def _latest(a: datetime | None, b: datetime | None) -> datetime | None:
    if a is None:
        return b
    return a if b is None or a >= b else b


def _text(d: timedelta) -> str:
    s = int(d.total_seconds())
    return f"{s // 60}m{s % 60:02d}s" if s >= 60 else f"{s}s"
