"""The liquid session holding a time: inside, between and without known sessions."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from bot.strategy.context import SymbolInfo
from bot.strategy.liquid_hours import ALWAYS, liquid_session

DAY1 = (datetime(2026, 12, 7, 14, 30, tzinfo=UTC), datetime(2026, 12, 7, 21, tzinfo=UTC))
DAY2 = (DAY1[0] + timedelta(days=1), DAY1[1] + timedelta(days=1))
INFO = SymbolInfo("AAPL", None, 0.01, UTC, sessions=(DAY1, DAY2))


def test_inside_a_session() -> None:
    assert liquid_session(INFO, DAY1[0]) == DAY1
    assert liquid_session(INFO, DAY2[1] - timedelta(seconds=1)) == DAY2


def test_outside_the_sessions() -> None:
    for t in (DAY1[0] - timedelta(seconds=1), DAY1[1], DAY2[1] + timedelta(days=3)):
        assert liquid_session(INFO, t) is None


def test_unknown_hours_are_always_liquid() -> None:
    assert liquid_session(None, DAY1[1]) == ALWAYS
    assert liquid_session(SymbolInfo("X", None, 0.01, UTC), DAY1[1]) == ALWAYS
