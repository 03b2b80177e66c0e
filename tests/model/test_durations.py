"""IB durations: one parser for the config, the feed, the simulated gateway and downloads."""

from __future__ import annotations

from datetime import timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.model.durations import UNITS, IbDuration, covering_duration, parse_duration

durations = st.builds(IbDuration, st.integers(1, 10**6), st.sampled_from(list(UNITS)))


@given(durations)
def test_round_trip(d: IbDuration) -> None:
    assert parse_duration(str(d)) == d
    assert parse_duration(f" {d.count}{d.unit.lower()} ", loose=True) == d


@pytest.mark.parametrize("text", ["10 D", "10 d", " 3600  S ", "1 Y"])
def test_ib_form(text: str) -> None:
    assert parse_duration(text) is not None


@pytest.mark.parametrize("text", ["10D", "0 D", "10 H", "10 days", "-1 D", "1.5 D", "", "D"])
def test_not_ib_form(text: str) -> None:
    assert parse_duration(text) is None


def test_loose_still_needs_a_unit_and_a_count() -> None:
    assert parse_duration("1Y", loose=True) == IbDuration(1, "Y")
    assert parse_duration("0D", loose=True) is None
    assert parse_duration("10", loose=True) is None


def test_longest_seconds_orders_units() -> None:
    assert IbDuration(1, "M").longest_seconds() > IbDuration(30, "D").longest_seconds()
    assert IbDuration(10, "D").longest_seconds() == 864000


@pytest.mark.parametrize(
    ("gap_s", "size_s", "expected"),
    [(0, 60, "60 S"), (3540, 60, "3600 S"), (86340, 60, "86400 S"), (86341, 60, "2 D"),
     (-5, 60, "60 S"), (0, 86400, "1 D"), (86400, 86400, "2 D")],
)  # fmt: skip
def test_covering_duration(gap_s: int, size_s: int, expected: str) -> None:
    assert str(covering_duration(timedelta(seconds=gap_s), size_s)) == expected
