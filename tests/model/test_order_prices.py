"""Order types' prices: the same sets serve OrderType members and ib_insync's strings."""

from __future__ import annotations

from bot.model.events import OrderType
from bot.model.order_prices import AT_THE_CLOSE, LIMIT_PRICED, TRIGGER_PRICED


def test_ib_strings_and_members_alike() -> None:
    assert {t for t in OrderType if t in LIMIT_PRICED} == {"LMT", "STP LMT", "LOC"}
    assert {t for t in OrderType if t in TRIGGER_PRICED} == {"STP", "STP LMT", "MIT"}
    assert "STP LMT" in LIMIT_PRICED and OrderType.STOP_LIMIT in TRIGGER_PRICED


def test_no_price_for_market_or_trail() -> None:
    for t in (OrderType.MARKET, OrderType.MARKET_ON_CLOSE, OrderType.TRAIL):
        assert t not in LIMIT_PRICED | TRIGGER_PRICED
    assert {"MOC", "LOC"} == AT_THE_CLOSE
