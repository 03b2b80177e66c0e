"""The daemon over its embedded simulated gateway: the lockstep barrier of ``ibbot backtest
--engine gateway``, and the watch that stops the run at the end of the replayed data."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

from bot.market_data.ib_feed import Feed
from bot.trading.daily_scan import DailyScans
from bot.venues.ib import IbVenue

# Why a run against the embedded gateway stopped when its replay ran out (not a signal).
END_OF_DATA = "end of the simulated gateway's data"


class Lockstep:
    """The gateway driver's barrier before each step: start-up done, and two round trips. The
    first returns once the client has read all the last step sent (strategies answer
    synchronously, so their orders are on the socket by then); the second once the gateway has
    read them. Daily scans due at the gateway's time run here, to their end."""

    def __init__(self, ready: asyncio.Event, venue: IbVenue, gateway: Any,
                 scans: Callable[[], DailyScans | None]) -> None:  # fmt: skip
        """``scans``: the daemon's daily scans once built (None: none, or not yet)."""
        self._ready, self._venue, self._gateway, self._scans = ready, venue, gateway, scans

    async def __call__(self) -> None:
        await self._ready.wait()
        await self._venue.current_time()
        await self._venue.current_time()
        scans = self._scans()
        if scans:
            scans.observe(self._gateway.clock.now())
            for task in scans.running():
                await task


async def watch_replay(gw: Any, feed: Feed, cap: datetime | None,
                       stop: Callable[[str], None]) -> None:  # fmt: skip
    """Stop when the embedded gateway's replay has passed the end of the data this run
    subscribes to (other instruments' data may run on: EUR.USD trades until 17:00); ``cap``:
    ``RunOptions.gateway_end``."""
    subscribed: set[int] | None = None
    end = gw.clock.now()
    while True:
        await asyncio.sleep(0.25)
        now_subscribed = {c.conId for c in feed.contracts()}
        if now_subscribed != subscribed:  # a daily scan changed the symbols
            subscribed, end = now_subscribed, _replay_end(gw, now_subscribed, cap)
        if gw.clock.now() >= end or gw.finished:
            # Let the last bars and fills arrive before stopping.
            await asyncio.sleep(0.5)
            stop(END_OF_DATA)
            return


def _replay_end(gw: Any, con_ids: set[int], cap: datetime | None) -> datetime:
    """End of the embedded gateway's data for the subscribed contracts, capped by ``cap``:
    the end of each one's last 1-minute bar."""
    market = gw.market
    end = market.last_time()
    if cap is not None:
        end = min(end, cap)
    ends = []
    for cid in con_ids:
        if not market.has_data(cid):
            continue
        what = "MIDPOINT" if gw.instruments.by_con_id(cid).sec_type == "CASH" else "TRADES"
        bars = market.history.historical_bars(cid, end, "2 D", "1 min", what, False, end)
        if bars:
            ends.append(_utc(bars[-1].date) + timedelta(minutes=1))
    return min(end, max(ends)) if ends else end


def _utc(t: Any) -> datetime:
    return t.replace(tzinfo=UTC) if t.tzinfo is None else t.astimezone(UTC)
