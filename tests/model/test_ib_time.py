"""IB's time strings: written with the zone's name, read back to the same instant."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.model.ib_time import format_ib_time, parse_ib_time

NY = ZoneInfo("US/Eastern")
T = datetime(2026, 12, 7, 20, 30, tzinfo=UTC)
instants = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
).map(lambda t: t.replace(microsecond=0))


def test_format() -> None:
    assert format_ib_time(T) == "20261207 20:30:00 UTC"
    assert format_ib_time(T, NY) == "20261207 15:30:00 US/Eastern"


@given(instants, st.sampled_from([ZoneInfo("UTC"), NY, ZoneInfo("Asia/Tokyo")]))
def test_round_trip(t: datetime, tz: ZoneInfo) -> None:
    assert parse_ib_time(format_ib_time(t, tz), UTC) == t


@pytest.mark.parametrize(
    ("text", "tz", "expected"),
    [("20261207 15:30:00", NY, T), ("20261207 20:30:00", UTC, T),
     ("20261207-20:30:00", NY, T), (" 20261207 21:30:00 Europe/Berlin ", UTC, T),
     ("20261207 15:30:00 US/Eastern", UTC, T)],
)  # fmt: skip
def test_forms(text: str, tz: ZoneInfo, expected: datetime) -> None:
    assert parse_ib_time(text, tz) == expected


@pytest.mark.parametrize(
    "text", ["", "20261207", "2026-12-07 15:30:00", "20261207 15:30:00 Mars/Base"]
)
def test_unreadable(text: str) -> None:
    with pytest.raises(ValueError):
        parse_ib_time(text, UTC)


def test_dst_is_the_zone_s() -> None:
    summer = datetime(2026, 7, 1, 19, 30, tzinfo=UTC)
    assert format_ib_time(summer, NY) == "20260701 15:30:00 US/Eastern"
    assert parse_ib_time("20260701 15:30:00", NY) == summer
