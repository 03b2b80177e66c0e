"""Fixtures of the strategy tests; the helpers themselves are in strategy_helpers.py."""

from __future__ import annotations

import pytest
from strategy_helpers import FakeContext


@pytest.fixture
def ctx() -> FakeContext:
    return FakeContext()
