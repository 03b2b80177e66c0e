"""IB's codes: which are warnings, which cancels are refusals."""

from __future__ import annotations

import pytest

from bot.model.ib_errors import FARM_NOTICES, is_rejection, is_warning


@pytest.mark.parametrize("code", [165, 202, 399, 2104, 2106, 2158, 2100, 2199])
def test_warnings(code: int) -> None:
    assert is_warning(code)


@pytest.mark.parametrize("code", [162, 200, 201, 321, 326, 1100, 1102, 2200, 10147])
def test_errors(code: int) -> None:
    assert not is_warning(code)


def test_rejections() -> None:
    assert [c for c in (0, 201, 202, 110, 10148) if is_rejection(c)] == [201, 110, 10148]


def test_every_farm_notice_is_a_warning() -> None:
    assert all(is_warning(code) for code in FARM_NOTICES)
