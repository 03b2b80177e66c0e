"""Dry run: orders fill on the simulated broker against the prices the executor learns
(bot/venues/dry_run.py).

Every price below is hand-computed from the fill rules of bot/sim/matching.py applied to a
tick whose trade and quote are the price itself (AAPL min tick 0.01, no slippage). T0 is
10:00 New York, inside the regular session.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from support.times import T0
from test_executor import Harness, place
from test_router import NY, FakeExecutor, FakeFeed, FakeRisk, add, info

from bot.model.events import Bar, ModifyOrder, OrderSpec, OrderType, PlaceBracket, Side
from bot.portfolio.book import Portfolio
from bot.trading.router import Clock, Router

BUY, SELL = Side.BUY, Side.SELL


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path, dry_run=True)
    yield harness
    assert harness.ib.client.sent == []  # nothing ever reaches IB
    assert harness.ib.placed() == []
    exec_ids = [f.exec_id for _, f in harness.fills]
    assert len(set(exec_ids)) == len(exec_ids)
    harness.journal.close()


def fills(h: Harness) -> list[tuple[str, Side, float, float]]:
    return [(f.tag, f.side, f.quantity, f.price) for _, f in h.fills]


def prices(h: Harness, *ps: float) -> None:
    for p in ps:
        h.ex.update_price("AAPL", p)


def test_resting_buy_limit_fills_at_its_limit_once_traded_through(h: Harness) -> None:
    h.submit(place("l", order_type=OrderType.LIMIT, limit_price=99.50))
    prices(h, 100.00, 99.80, 99.51)
    assert h.fills == []
    assert h.ex.working_orders("s1", "AAPL")["l"].status == "Submitted"
    prices(h, 99.40)  # through the limit: fills at the limit, not at 99.40
    assert fills(h) == [("l", BUY, 10, 99.50)]
    assert h.ex.position("s1", "AAPL") == 10
    assert h.ex.working_orders("s1", "AAPL") == {}
    prices(h, 99.00)
    assert len(h.fills) == 1


def test_sell_stop_triggers_on_a_lower_price_and_fills_there(h: Harness) -> None:
    h.submit(place("sl", action=SELL, order_type=OrderType.STOP, stop_price=97.50))
    prices(h, 98.00, 97.51)
    assert h.fills == []
    prices(h, 97.50)  # last <= stop: a market order on this tick, filled at 97.50
    assert fills(h) == [("sl", SELL, 10, 97.50)]


def test_sell_stop_gapped_through_fills_at_the_gap_price(h: Harness) -> None:
    h.submit(place("sl", action=SELL, order_type=OrderType.STOP, stop_price=97.50))
    prices(h, 98.20)
    prices(h, 96.80)  # gap from 98.20 to 96.80: fills at 96.80, never at the stop
    assert fills(h) == [("sl", SELL, 10, 96.80)]
    assert h.ex.position("s1", "AAPL") == -10


def test_a_bar_gap_fills_at_its_open_and_an_intrabar_low_triggers(h: Harness) -> None:
    h.submit(place("a", action=SELL, order_type=OrderType.STOP, stop_price=97.50))
    # close >= open: path open 96.90, low 96.50, high 97.30, close 97.00 -> fills at the open
    h.ex.update_bar("AAPL", 96.90, 97.30, 96.50, 97.00, T0 + timedelta(minutes=1))
    assert fills(h) == [("a", SELL, 10, 96.90)]
    h.submit(place("b", action=SELL, order_type=OrderType.STOP, stop_price=96.00))
    # the close (96.80) never reaches the stop; the low (95.90) does, after the high
    h.ex.update_bar("AAPL", 96.90, 97.10, 95.90, 96.80, T0 + timedelta(minutes=2))
    assert fills(h)[1:] == [("b", SELL, 10, 95.90)]


def test_bars_not_after_the_order_or_replayed_do_not_fill(h: Harness) -> None:
    h.submit(place("sl", action=SELL, order_type=OrderType.STOP, stop_price=97.50))
    # this bar ended when the order arrived (T0): its prices came before the order
    h.ex.update_bar("AAPL", 97.00, 97.00, 96.00, 96.50, T0)
    h.ex.update_bar("AAPL", 98.00, 98.50, 97.80, 98.10, T0 + timedelta(minutes=1))
    # a replay of an older bar (after a reconnect) is not matched again
    h.ex.update_bar("AAPL", 97.00, 97.00, 96.00, 96.50, T0 + timedelta(minutes=1))
    assert h.fills == []
    h.ex.update_bar("AAPL", 98.00, 98.00, 97.40, 97.60, T0 + timedelta(minutes=2))
    assert fills(h) == [("sl", SELL, 10, 97.40)]


def test_trailing_stop_ratchets_up_only_then_triggers(h: Harness) -> None:
    h.submit(place("tr", action=SELL, order_type=OrderType.TRAIL, trail_amount=1.00))
    prices(h, 100.00)  # first tick: stop = 100.00 - 1.00 = 99.00
    prices(h, 101.50)  # ratchets up to 100.50
    prices(h, 100.60)  # above the stop; 99.60 would be lower: stays at 100.50
    assert h.fills == []
    prices(h, 100.40)  # 100.40 <= 100.50: triggers, fills at the trade price
    assert fills(h) == [("tr", SELL, 10, 100.40)]


def test_modified_stop_is_matched_at_its_new_price(h: Harness) -> None:
    h.submit(place("sl", action=SELL, order_type=OrderType.STOP, stop_price=97.50))
    prices(h, 98.50)
    h.submit(ModifyOrder("AAPL", "sl", stop_price=98.00))
    prices(h, 98.10)
    assert h.fills == []
    prices(h, 97.90)
    assert fills(h) == [("sl", SELL, 10, 97.90)]


def test_bracket_legs_wait_for_the_entry_then_take_profit_cancels_the_stop(h: Harness) -> None:
    h.submit(
        PlaceBracket(
            "AAPL",
            OrderSpec(BUY, 50, OrderType.LIMIT, limit_price=100.00),
            OrderSpec(SELL, 50, OrderType.LIMIT, limit_price=105.00),
            OrderSpec(SELL, 50, OrderType.STOP, stop_price=97.50),
        )
    )
    prices(h, 106.00)  # the take-profit would fill here were it active
    assert h.fills == []
    prices(h, 97.00)  # entry fills at its limit; the stop (97.50) is not active on this tick
    assert fills(h) == [("bracket", BUY, 50, 100.00)]
    assert set(h.ex.working_orders("s1", "AAPL")) == {"bracket.tp", "bracket.sl"}
    prices(h, 101.00)  # between the legs: nothing
    prices(h, 105.20)  # through the take-profit's limit: fills at 105.00
    assert fills(h)[1:] == [("bracket.tp", SELL, 50, 105.00)]
    assert h.ex.working_orders("s1", "AAPL") == {}
    sl_views = [w for _, w in h.views if w.tag == "bracket.sl"]
    assert sl_views[-1].status == "Cancelled"
    prices(h, 90.00)  # the cancelled stop never fills
    assert len(h.fills) == 2
    assert h.ex.position("s1", "AAPL") == 0


def test_market_bracket_entry_fills_at_the_next_price_then_stop_protects(h: Harness) -> None:
    h.submit(
        PlaceBracket(
            "AAPL",
            OrderSpec(BUY, 20, OrderType.MARKET),
            OrderSpec(SELL, 20, OrderType.LIMIT, limit_price=110.00),
            OrderSpec(SELL, 20, OrderType.STOP, stop_price=95.00),
        ),
        ref_price=99.00,  # the decision's price is past: the entry waits for the next one
    )
    assert h.fills == []
    prices(h, 100.00)  # the entry fills here; the legs work from the next tick on
    assert fills(h) == [("bracket", BUY, 20, 100.00)]
    prices(h, 96.00, 94.50)
    assert fills(h)[1:] == [("bracket.sl", SELL, 20, 94.50)]
    assert h.ex.working_orders("s1", "AAPL") == {}
    assert h.ex.position("s1", "AAPL") == 0


def test_a_market_order_fills_at_the_next_bar_open(h: Harness) -> None:
    h.ex.update_bar("AAPL", 99.00, 99.60, 98.80, 99.50, T0)  # the bar the decision saw
    h.submit(place("m"), ref_price=99.50)
    h.ex.update_bar("AAPL", 99.70, 100.20, 99.40, 100.00, T0 + timedelta(minutes=1))
    assert fills(h) == [("m", BUY, 10, 99.70)]


def test_dry_run_commissions_are_the_simulated_brokers_estimate(h: Harness) -> None:
    h.submit(place("m", quantity=100))
    prices(h, 50.00)
    assert h.ex.commission("s1") == 1.0  # IB fixed: 0.005/share, at least 1.00


def test_fills_are_journalled_with_dry_exec_ids(h: Harness) -> None:
    h.submit(place("l", order_type=OrderType.LIMIT, limit_price=99.50))
    prices(h, 100.00, 99.00)
    h.submit(place("l", order_type=OrderType.LIMIT, limit_price=99.50))
    prices(h, 99.00)  # marketable when it arrives: fills at the better price
    assert [f.exec_id for _, f in h.fills] == ["dry.ibbot:s1:AAPL:l:1", "dry.ibbot:s1:AAPL:l:2"]
    h.journal.flush()
    assert h.journal.query("SELECT exec_id, price FROM fills ORDER BY exec_id") == [
        ("dry.ibbot:s1:AAPL:l:1", 99.50),
        ("dry.ibbot:s1:AAPL:l:2", 99.00),
    ]


class _BarExecutor(FakeExecutor):
    def __init__(self) -> None:
        super().__init__()
        self.bars: list[tuple[object, ...]] = []

    def update_bar(self, symbol: str, open_: float, high: float, low: float, close: float,
                   time: datetime) -> None:  # fmt: skip
        self.bars.append((symbol, open_, high, low, close, time))


def test_the_engine_hands_whole_bars_to_an_executor_that_takes_them() -> None:
    ex, feed, prices = _BarExecutor(), FakeFeed(), {}  # type: ignore[var-annotated]
    router = Router(risk=FakeRisk(), executor=ex, infos={"AAPL": info("AAPL", 1)},
                    clock=Clock(T0), prices=prices, pnl=Portfolio(NY, prices))  # fmt: skip
    add(router, feed, "s1", ["AAPL"])
    b = Bar("AAPL", T0, 10.0, 10.5, 9.5, 10.2, 100, 900)
    router.on_bar(feed.keys[0], b, True)
    assert ex.bars == [("AAPL", 10.0, 10.5, 9.5, 10.2, T0 + timedelta(seconds=900))]
    assert ex.prices == {}  # the whole bar went to update_bar, nothing else was called
