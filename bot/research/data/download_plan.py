"""What ``ibbot data download`` asks IB for: the windows missing from the store, in chunks IB
accepts.

IB caps each historical request by its bar size (the "step sizes" table of
https://interactivebrokers.github.io/tws-api/historical_limitations.html: 1 D of 1-minute bars,
1 W of 3- to 20-minute bars, 1 M of 30-minute to 8-hour bars, 1 Y of daily bars). A download
steps through the range with requests of exact calendar length within those caps (86400 S,
1 W, 4 W, 52 W), so consecutive windows neither overlap nor leave gaps, whatever the trading
calendar.

Only what the store lacks is asked for: after its last bar (forward, from that bar, which is
fetched again in case it was still in progress) and before its first (backward). Both
directions grow the stored range from its edge, one window at a time, so a download stopped
after any window leaves one contiguous range and the next run asks only for the rest. A
remainder shorter than a chunk takes the shortest IB duration that covers it (seconds up to a
day, then days, as the feed's backfill does: ``bot/model/durations.py`` ``covering_duration``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd

from bot.model.bar_sizes import BAR_SIZES
from bot.model.durations import IbDuration, covering_duration, parse_duration
from bot.sim.datafile import bar_name

ADJUSTED_LAST = "ADJUSTED_LAST"
WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "BID", "ASK", ADJUSTED_LAST)


@dataclass(frozen=True, slots=True)
class Chunk:
    """One bar size's request length: ``step`` as sent, ``length`` its span, ``ib_max`` IB's
    cap from the step-size table (the most one request may cover)."""

    step: str
    length: timedelta
    ib_max: str
    ib_max_length: timedelta


CHUNKS: dict[int, Chunk] = {
    60: Chunk("86400 S", timedelta(days=1), "1 D", timedelta(days=1)),
    300: Chunk("1 W", timedelta(weeks=1), "1 W", timedelta(weeks=1)),
    900: Chunk("1 W", timedelta(weeks=1), "1 W", timedelta(weeks=1)),
    3600: Chunk("4 W", timedelta(weeks=4), "1 M", timedelta(days=31)),
    86400: Chunk("52 W", timedelta(weeks=52), "1 Y", timedelta(days=366)),
}
BAR_CHOICES = tuple(bar_name(s) for s in CHUNKS)  # 1min 5min 15min 1h 1day

@dataclass(frozen=True, slots=True)
class Window:
    """One request: bars from ``end`` back over ``duration`` (IB's durationStr)."""

    end: datetime
    duration: str
    forward: bool  # after the stored range (else before it)


@dataclass(frozen=True, slots=True)
class RangeSpec(IbDuration):
    """``--duration``: a calendar span back from the server's time (D, W, M or Y)."""

    @classmethod
    def parse(cls, text: str) -> RangeSpec:
        span = parse_duration(text, loose=True)
        if span is None or span.unit == "S":
            raise ValueError(
                f"--duration {text!r}: expected a positive count and a unit D, W, M or Y "
                "(e.g. 1Y, 6M, 2W, 30D)"
            )
        return cls(span.count, span.unit)

    def start(self, now: datetime) -> datetime:
        units = {"D": "days", "W": "weeks", "M": "months", "Y": "years"}
        start = pd.Timestamp(now) - pd.DateOffset(**{units[self.unit]: self.count})
        return start.to_pydatetime()

    def approx(self) -> timedelta:
        days = {"D": 1, "W": 7, "M": 30, "Y": 365}[self.unit]
        return timedelta(days=days * self.count)


def ib_bar_size(bar: str) -> int:
    """``--bar`` (a store name: 1min, 5min, 15min, 1h, 1day) -> seconds."""
    for seconds in CHUNKS:
        if bar_name(seconds) == bar:
            return seconds
    raise ValueError(f"--bar {bar!r}: expected one of {', '.join(BAR_CHOICES)}")


def bar_size_setting(seconds: int) -> str:
    """IB's barSizeSetting for ``seconds`` ("15 mins")."""
    return next(text for text, s in BAR_SIZES.items() if s == seconds)


def plan_windows(
    bar_seconds: int,
    start: datetime,
    now: datetime,
    first: datetime | None,
    last: datetime | None,
) -> list[Window]:
    """The requests that fill [start, now] around the stored bars [first, last] (both None:
    nothing stored). Forward windows first, oldest first; then backward, newest first."""
    chunk, size = CHUNKS[bar_seconds], timedelta(seconds=bar_seconds)
    windows: list[Window] = []
    if last is not None and now - last > size:
        cursor = last  # its bar again: it may have been in progress when stored
        while now - cursor > chunk.length:
            cursor += chunk.length
            windows.append(Window(cursor, chunk.step, forward=True))
        windows.append(Window(now, _rest(now - cursor, bar_seconds), forward=True))
    cursor = now if first is None else first
    if cursor - start < size:
        return windows
    while cursor - start > chunk.length:
        windows.append(Window(cursor, chunk.step, forward=False))
        cursor -= chunk.length
    windows.append(Window(cursor, _rest(cursor - start, bar_seconds), forward=False))
    return windows


def _rest(gap: timedelta, bar_seconds: int) -> str:
    """The shortest IB duration that covers ``gap`` (at most a chunk) and the bar in
    progress, never more than a chunk."""
    chunk = CHUNKS[bar_seconds]
    if gap + timedelta(seconds=bar_seconds) > chunk.length:
        return chunk.step
    return str(covering_duration(gap, bar_seconds))
