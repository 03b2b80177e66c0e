"""SimBroker keeps one day of finished orders and executions, as IB answers for them."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from broker_helpers import AAPL, ACCT, broker, contract, order, tick

from bot.sim.broker import OrderErrorEvent, SimBroker

DAY = timedelta(days=1)


def _trade_day(b: SimBroker, first_id: int, day: int, n: int = 20) -> None:
    """``n`` market orders filled, alternately buying and selling, on trading day ``day``."""
    for i in range(n):
        t = tick(100.0 + i * 0.01, minute=1 + i)
        t = replace(t, time=t.time + day * DAY)
        action = "BUY" if i % 2 == 0 else "SELL"
        b.place_order(ACCT, 1, contract(), order(first_id + i, action, 10), t.time)
        b.on_tick(t)


def test_a_new_day_drops_the_previous_days_completed_orders_and_executions() -> None:
    b = broker()
    _trade_day(b, 1, day=0)
    assert len(b.completed_orders(ACCT)) == 20 and len(b.executions(ACCT)) == 20
    for day in range(1, 5):  # Tuesday .. Friday: each day answers for itself only
        _trade_day(b, 1 + 20 * day, day=day)
        done = b.completed_orders(ACCT)
        assert len(done) == 20 and len(b.executions(ACCT)) == 20
        assert {s.order.orderId for s in done} == set(range(1 + 20 * day, 21 + 20 * day))
    assert len(b._book.orders) == 20  # the index too: nothing older is kept
    # The books are whole: the account still has every day's commissions and flat position.
    acct = b.account(ACCT)
    assert acct.commissions == 100 * 1.0  # IB fixed: the $1 minimum on each of 100 fills
    assert acct.positions[AAPL].qty == 0


def test_a_forgotten_order_id_is_still_refused_and_next_ids_stay_above_it() -> None:
    b = broker()
    _trade_day(b, 1, day=0)
    _trade_day(b, 21, day=1)  # day 0's orders 1..20 are forgotten now
    t = tick(100.0, minute=30)
    events = b.place_order(ACCT, 1, contract(), order(5, "BUY", 1), t.time + DAY)
    assert [(e.code, e.order_id) for e in events if isinstance(e, OrderErrorEvent)] == [(103, 5)]
    assert b.max_order_id(ACCT, 1) == 40 and b.max_order_id(ACCT, 2) == 0


def test_a_bracket_parent_filled_yesterday_leaves_its_working_children_whole() -> None:
    b = broker()
    t0 = tick(100.0, minute=1)
    parent = order(1, "BUY", 10, transmit=False)
    tp = order(2, "SELL", 10, "LMT", lmtPrice=105.0, parentId=1, tif="GTC", transmit=False)
    sl = order(3, "SELL", 10, "STP", auxPrice=95.0, parentId=1, tif="GTC")
    for o in (parent, tp, sl):
        b.place_order(ACCT, 1, contract(), o, t0.time)
    b.on_tick(t0)  # the parent fills; its children work
    _trade_day(b, 10, day=1, n=2)  # the next day: the parent is forgotten
    assert [s.order.orderId for s in b.open_orders(ACCT)] == [2, 3]
    late = replace(tick(105.5, minute=40), time=t0.time + DAY + timedelta(minutes=60))
    b.on_tick(late)  # the take-profit fills and cancels its sibling
    assert {s.order.orderId: s.order_state.status for s in b.completed_orders(ACCT)} == {
        10: "Filled", 11: "Filled", 2: "Filled", 3: "Cancelled",
    }  # fmt: skip
