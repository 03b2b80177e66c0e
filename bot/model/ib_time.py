"""IB's date-time strings, both ways: "20261207 15:30:00 US/Eastern", "20261207-20:30:00".

IB reads "yyyymmdd hh:mm:ss [zone]", a time without a zone in the TWS login time zone, and
"yyyymmdd-hh:mm:ss" as UTC; it writes the first form with the login zone's name.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

_FORMAT = "%Y%m%d %H:%M:%S"
UTC_ZONE = ZoneInfo("UTC")


def format_ib_time(t: datetime, tz: ZoneInfo = UTC_ZONE) -> str:
    """``t`` in ``tz`` with the zone's name: read alike whatever the login time zone."""
    return f"{t.astimezone(tz):{_FORMAT}} {tz.key}"


def parse_ib_time(text: str, tz: tzinfo) -> datetime:
    """An aware UTC datetime; ``tz`` is the zone of a time written without one. ValueError
    if ``text`` is no IB time."""
    parts = text.split()
    if parts and parts[0][8:9] == "-":  # "yyyymmdd-hh:mm:ss" is UTC, whatever follows
        parts, tz = parts[0].split("-", 1), UTC
    try:
        t = datetime.strptime(" ".join(parts[:2]), _FORMAT)
        zone = ZoneInfo(parts[2]) if len(parts) > 2 else tz
    except ZoneInfoNotFoundError:
        raise ValueError(f"unknown time zone in {text!r}") from None
    return t.replace(tzinfo=zone).astimezone(UTC)
