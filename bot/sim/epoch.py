"""Conversions between UTC datetimes and the epoch numbers the market's arrays hold."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

EPOCH_DAY = date(1970, 1, 1)
NEVER = -(2**62)  # an epoch time before anything: "no session", "no lower bound"
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def to_ms(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(milliseconds=1)


def to_sec(t: datetime) -> int:
    return (t - _EPOCH) // timedelta(seconds=1)


def from_sec(sec: int) -> datetime:
    return _EPOCH + timedelta(seconds=sec)


def from_ms(ms: int) -> datetime:
    return _EPOCH + timedelta(milliseconds=ms)
