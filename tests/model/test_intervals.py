"""Intervals ("90s", "1h30m"): one parser for configs, fault plans and ``ibbot run``."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.model.intervals import parse_interval


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("30s", 30), ("5m", 300), ("1h", 3600), ("1h30m", 5400), ("0.5h", 1800), ("1.5s", 1.5),
     (" 2 m ", 120), ("1h 30m 5s", 5405), ("2H", 7200), ("0s", 0)],
)  # fmt: skip
def test_intervals(text: str, seconds: float) -> None:
    assert parse_interval(text) == seconds


@pytest.mark.parametrize("text", ["", "120", "h", "30m1h", "1h1h", "5 minutes", "-5s", ".5s"])
def test_not_intervals(text: str) -> None:
    assert parse_interval(text) is None


@given(st.integers(0, 99), st.integers(0, 59), st.integers(0, 59))
def test_round_trip(h: int, m: int, s: int) -> None:
    text = "".join(f"{n}{u}" for n, u in ((h, "h"), (m, "m"), (s, "s")) if n) or "0s"
    assert parse_interval(text) == h * 3600 + m * 60 + s
