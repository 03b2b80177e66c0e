"""Bars for the live feed: the data-quality filter and 5-second -> N-second aggregation.

IB streams real-time bars every 5 seconds; strategies want 1-, 5-, 15-minute ... bars. A
``BarBuilder`` sums the 5-second bars of one symbol into buckets aligned to the exchange clock
(a 15-minute bar of a US/Eastern stock covers 09:45-10:00 exchange time), and hands a bar on
exactly once, when it closes:

* when the bucket's last 5-second bar arrives (the usual case: no extra latency), or
* when a bar of a later bucket arrives (the last 5-second bar was missing), or
* when the feed's market clock (the newest 5-second bar of any symbol) has passed the bucket's
  end by a grace period (the symbol went quiet: halts, the end of the session).

Daily bars are buckets of one exchange-local calendar day; they close by the last two rules.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, tzinfo

from bot.model.events import Bar

log = logging.getLogger(__name__)

DAY_S = 86400
RT_BAR_S = 5  # IB's real-time bars are always 5 seconds


def price_problem(open_: float, high: float, low: float, close: float) -> str | None:
    """Why these prices cannot be traded on ("nan", "non-positive", "high<low"), else None."""
    if math.isnan(open_) or math.isnan(high) or math.isnan(low) or math.isnan(close):
        return "nan"
    if open_ <= 0 or high <= 0 or low <= 0 or close <= 0:
        return "non-positive"
    if high < low:
        return "high<low"
    return None


def clean_volume(volume: float) -> float:
    # IB reports volume -1 for MIDPOINT/BID/ASK bars: no volume, not bad data.
    return volume if volume > 0 else 0.0


class QualityLog:
    """Counts dropped bars and ticks per (symbol, reason) and logs them without flooding:
    the first ``first`` of each kind, then every ``every``-th."""

    __slots__ = ("counts", "every", "first")

    def __init__(self, *, first: int = 5, every: int = 1000) -> None:
        self.counts: dict[tuple[str, str], int] = {}
        self.first = first
        self.every = every

    def drop(self, symbol: str, reason: str, what: str) -> None:
        key = (symbol, reason)
        n = self.counts.get(key, 0) + 1
        self.counts[key] = n
        if n <= self.first or n % self.every == 0:
            log.warning("data quality: dropped %s %s of %s (%d so far)", reason, what, symbol, n)

    @property
    def total(self) -> int:
        return sum(self.counts.values())

    def by_reason(self) -> dict[str, int]:
        out: dict[str, int] = {}
        for (_, reason), n in self.counts.items():
            out[reason] = out.get(reason, 0) + n
        return out


def bucket_start(t: datetime, size_s: int, tz: tzinfo) -> datetime:
    """Start (UTC) of the ``size_s`` bucket holding ``t``, aligned to ``tz``'s midnight."""
    local = t.astimezone(tz)
    if size_s >= DAY_S:
        start = local.replace(hour=0, minute=0, second=0, microsecond=0)
    else:
        sec = local.hour * 3600 + local.minute * 60 + local.second
        k = sec // size_s * size_s
        start = local.replace(hour=k // 3600, minute=k % 3600 // 60, second=k % 60, microsecond=0)
    return start.astimezone(UTC)


class BarBuilder:
    """Aggregates one symbol's 5-second bars (a backtest: its data's bars) into closed
    ``size_s`` bars (see module doc).

    ``emit`` is called with each closed bar, in time order, exactly once; ``last_end`` is the end
    of the last bar handed on (or of the last complete warm-up bar), and nothing at or before it
    is ever emitted again.
    """

    __slots__ = (
        "_c",
        "_end",
        "_h",
        "_l",
        "_o",
        "_start",
        "_v",
        "emit",
        "last_end",
        "size_s",
        "sub",
        "symbol",
        "tz",
    )

    def __init__(
        self,
        symbol: str,
        size_s: int,
        tz: tzinfo,
        emit: Callable[[Bar], None],
        sub_s: int = RT_BAR_S,
    ) -> None:
        """``sub_s``: the length of the bars added (5 s live; a backtest adds its data's)."""
        if size_s < sub_s or (size_s < DAY_S and (DAY_S % size_s or size_s % sub_s)):
            raise ValueError(f"bar size {size_s}s cannot be built from {sub_s}-second bars")
        self.symbol = symbol
        self.sub = timedelta(seconds=sub_s)
        self.size_s = size_s
        self.tz = tz
        self.emit = emit
        self.last_end: datetime | None = None
        self._start: datetime | None = None  # open bucket, None when there is none
        self._end: datetime | None = None
        self._o = self._h = self._l = self._c = self._v = 0.0

    @property
    def open_end(self) -> datetime | None:
        """End of the bucket being built, if any."""
        return self._end

    def bucket(self, t: datetime) -> tuple[datetime, datetime]:
        start = bucket_start(t, self.size_s, self.tz)
        if self.size_s >= DAY_S:
            local = start.astimezone(self.tz)
            end = (local + timedelta(days=1)).replace(hour=0).astimezone(UTC)
        else:
            end = start + timedelta(seconds=self.size_s)
        return start, end

    def seed(self, bar: Bar) -> None:
        """Open the bucket with the in-progress bar warm-up returned (the warm-up/live seam)."""
        self._start, self._end = self.bucket(bar.time)
        self._o, self._h, self._l, self._c, self._v = (
            bar.open, bar.high, bar.low, bar.close, bar.volume,
        )  # fmt: skip

    def add(
        self, t: datetime, open_: float, high: float, low: float, close: float, volume: float
    ) -> bool:
        """Add the bar (5 seconds, or ``sub_s``) starting at ``t``; False if too late to count."""
        end = self._end
        if end is None or t >= end:
            if end is not None:
                self._close()
            if self.last_end is not None and t < self.last_end:
                return False
            self._start, self._end = self.bucket(t)
            self._o, self._h, self._l, self._c, self._v = open_, high, low, close, volume
        elif self._start is not None and t < self._start:
            return False
        else:
            if high > self._h:
                self._h = high
            if low < self._l:
                self._l = low
            self._c = close
            self._v += volume
        if t + self.sub >= self._end:  # type: ignore[operator]
            self._close()
        return True

    def discard_open(self) -> None:
        """Forget the bucket being built (a reconnect re-reads it from history)."""
        self._start = self._end = None

    def flush(self, now: datetime) -> None:
        """Close the open bucket if ``now`` is at or past its end."""
        if self._end is not None and now >= self._end:
            self._close()

    def _close(self) -> None:
        start, end = self._start, self._end
        assert start is not None and end is not None
        self._start = self._end = None
        self.last_end = end
        size_s = int((end - start).total_seconds())
        self.emit(Bar(self.symbol, start, self._o, self._h, self._l, self._c, self._v, size_s))
