"""IB's date/time strings, both ways.

The gateway has one "TWS login time zone" (``GatewayTuning.time_zone``, US/Eastern by default):
like a real TWS it writes times with that zone's name appended ("20240102 09:30:00 US/Eastern",
which ib_insync's ``parseIBDatetime`` turns into an aware datetime) and reads a time without a
zone in it. ``formatDate=2`` bars are epoch seconds; daily bars are "YYYYMMDD".
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from bot.model.ib_time import format_ib_time as ib_datetime  # the gateway's name for it
from bot.model.ib_time import parse_ib_time


def epoch(t: datetime) -> int:
    return int(t.timestamp())


def bar_date(d: date | datetime, format_date: int, tz: ZoneInfo) -> str:
    if not isinstance(d, datetime):
        return f"{d:%Y%m%d}"
    if format_date == 2:
        return str(epoch(d))
    return ib_datetime(d, tz)


def head_timestamp_text(t: datetime, format_date: int, tz: ZoneInfo) -> str:
    return str(epoch(t)) if format_date == 2 else ib_datetime(t, tz)


def parse_ib_datetime(text: str, tz: ZoneInfo) -> datetime | None:
    """An endDateTime: "" (now), "yyyymmdd hh:mm:ss [zone]", "yyyymmdd-hh:mm:ss" (UTC), or
    "yyyymmdd" (end of that day). Raises ValueError with IB's wording if unreadable."""
    text = text.strip()
    if not text:
        return None
    try:
        if len(text) == 8 and text.isdigit():
            day = datetime.strptime(text, "%Y%m%d")
            return day.replace(hour=23, minute=59, second=59, tzinfo=tz).astimezone(UTC)
        return parse_ib_time(text, tz)
    except ValueError:
        raise ValueError(
            "Error validating request.-'bP' : cause - Historical data query end date/time "
            f"string [{text}] is invalid.  Format is 'YYYYMMDD{{SPACE}}hh:mm:ss[{{SPACE}}TMZ]'."
        ) from None
