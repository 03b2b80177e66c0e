"""IB's historical-data durations (``durationStr``: "10 D", "1 W", "3600 S").

IB's reqHistoricalData documents the form "<integer> <unit>", the unit one of S (seconds),
D (days), W (weeks), M (months), Y (years). Letter case and surrounding spaces are forgiven;
a command line may also drop the space ("1Y").
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from datetime import timedelta

from bot.model.bar_sizes import DAY

UNITS: dict[str, str] = {"S": "seconds", "D": "days", "W": "weeks", "M": "months", "Y": "years"}
# The longest each unit can be, so two durations of different units compare safely.
_LONGEST_S = {"S": 1, "D": DAY, "W": 7 * DAY, "M": 31 * DAY, "Y": 366 * DAY}
_SPACED = re.compile(r"\s*([0-9]+)\s+([SDWMY])\s*", re.IGNORECASE)
_LOOSE = re.compile(r"\s*([0-9]+)\s*([SDWMY])\s*", re.IGNORECASE)


@dataclass(frozen=True, slots=True)
class IbDuration:
    """A count (1 or more) of one unit of ``UNITS``."""

    count: int
    unit: str

    def __str__(self) -> str:
        return f"{self.count} {self.unit}"

    def longest_seconds(self) -> int:
        """The most seconds this span can cover (a month as 31 days, a year as 366)."""
        return self.count * _LONGEST_S[self.unit]


def parse_duration(text: str, *, loose: bool = False) -> IbDuration | None:
    """``text`` as an IbDuration, None if it is not one; ``loose`` also takes "10D"."""
    m = (_LOOSE if loose else _SPACED).fullmatch(text)
    if m is None or int(m[1]) == 0:
        return None
    return IbDuration(int(m[1]), m[2].upper())


def covering_duration(gap: timedelta, size_s: int) -> IbDuration:
    """The IB duration that covers ``gap`` and the bar in progress: seconds up to a day
    (IB's limit for "S"), whole days beyond, and at least a day for daily bars."""
    seconds = max(0, math.ceil(gap.total_seconds())) + size_s
    if size_s >= DAY or seconds > DAY:
        return IbDuration(math.ceil(seconds / DAY), "D")
    return IbDuration(seconds, "S")
