"""IB's historical-data vocabulary (durations, bar sizes, whatToShow) and bar aggregation.

Bars are grouped by an integer key per base bar (a clock bucket in exchange time, or a trading
day) with ``np.add.reduceat`` and friends, so aggregation is vectorized whatever the size.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import datetime, timedelta

import numpy as np

from bot.model.bar_sizes import BAR_SIZES, DAY
from bot.model.durations import IbDuration, parse_duration
from bot.sim.bridge import I64, F

WHAT_TO_SHOW = ("TRADES", "MIDPOINT", "BID", "ASK")  # real-time bars and history
# History only: last prices adjusted for splits and dividends (IB refuses it with an
# endDateTime or keepUpToDate; see bot/gateway/data_requests.py).
ADJUSTED_LAST = "ADJUSTED_LAST"
HISTORICAL_WHAT_TO_SHOW = (*WHAT_TO_SHOW, ADJUSTED_LAST)
_UNIT_SECONDS = {"sec": 1, "secs": 1, "min": 60, "mins": 60, "hour": 3600, "hours": 3600}
_UNIT_SECONDS |= {"day": DAY, "days": DAY}


def parse_bar_size(text: str) -> int:
    """Seconds per bar for IB's barSizeSetting ("1 min", "5 secs", "1 day"...)."""
    m = re.fullmatch(r"\s*(\d+)\s+([a-z]+)\s*", text.lower())
    seconds = (
        int(m.group(1)) * _UNIT_SECONDS[m.group(2)] if m and m.group(2) in _UNIT_SECONDS else 0
    )
    if seconds not in BAR_SIZES.values():
        raise ValueError(
            "Error validating request.-'bP' : cause - Historical data bar size setting is "
            f"invalid: {text!r} (valid: {', '.join(BAR_SIZES)})"
        )
    return seconds


@dataclass(frozen=True, slots=True)
class Duration(IbDuration):
    """IB's durationStr as the simulated gateway reads it: refused with IB's wording."""

    @classmethod
    def parse(cls, text: str) -> Duration:
        parsed = parse_duration(text)
        if parsed is None:
            raise ValueError(
                "Error validating request.-'bP' : cause - Historical data request duration "
                f"format is invalid: {text!r} (expected '<integer> <S|D|W|M|Y>')"
            )
        return cls(parsed.count, parsed.unit)

    def calendar_start(self, end: datetime) -> datetime:
        """Window start for S, W, M and Y (D counts trading days: see Market)."""
        if self.unit == "S":
            return end - timedelta(seconds=self.count)
        if self.unit == "W":
            return end - timedelta(weeks=self.count)
        if self.unit == "D":
            return end - timedelta(days=self.count)
        months = self.count * (12 if self.unit == "Y" else 1)
        year, month = divmod(end.year * 12 + end.month - 1 - months, 12)
        day = min(end.day, 28)  # calendar months differ in length; IB is no stricter
        return end.replace(year=year, month=month + 1, day=day)


def check_what_to_show(what: str, *, historical: bool = False) -> str:
    what = what.upper()
    supported = HISTORICAL_WHAT_TO_SHOW if historical else WHAT_TO_SHOW
    if what not in supported:
        raise ValueError(
            f"Error validating request.-'bP' : cause - Invalid whatToShow {what!r} "
            f"(supported: {', '.join(supported)})"
        )
    return what


@dataclass(frozen=True, slots=True)
class BarArrays:
    """Columns of bars; ``time`` is each bar's start (epoch s), ``parent`` its source bar."""

    time: I64
    open: F
    high: F
    low: F
    close: F
    volume: F
    wap: F
    count: I64
    parent: I64

    def __len__(self) -> int:
        return len(self.time)

    def take(self, mask: np.ndarray) -> BarArrays:
        return BarArrays(*(getattr(self, f)[mask] for f in _BAR_FIELDS))

    @staticmethod
    def concat(parts: list[BarArrays]) -> BarArrays:
        return BarArrays(*(np.concatenate([getattr(p, f) for p in parts]) for f in _BAR_FIELDS))


_BAR_FIELDS = [f.name for f in fields(BarArrays)]


def group(bars: BarArrays, key: I64) -> tuple[I64, BarArrays]:
    """Aggregate consecutive bars sharing ``key``; returns (first index of each group, bars)."""
    starts = np.flatnonzero(np.r_[True, key[1:] != key[:-1]])
    last = np.r_[starts[1:], len(key)] - 1
    volume = np.add.reduceat(bars.volume, starts)
    notional = np.add.reduceat(bars.wap * bars.volume, starts)
    with np.errstate(divide="ignore", invalid="ignore"):
        wap = np.where(volume > 0, notional / volume, bars.close[last])
    return starts, BarArrays(
        time=bars.time[starts],
        open=bars.open[starts],
        high=np.maximum.reduceat(bars.high, starts),
        low=np.minimum.reduceat(bars.low, starts),
        close=bars.close[last],
        volume=volume,
        wap=wap,
        count=np.add.reduceat(bars.count, starts),
        parent=bars.parent[starts],
    )
