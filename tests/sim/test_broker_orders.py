"""SimBroker order types, hand-computed: each test states the prices that make its numbers."""

from __future__ import annotations

from datetime import timedelta

from broker_helpers import AAPL, ACCT, CLOSE, INSTRUMENTS, OPEN, at, broker, contract, order, tick

from bot.sim.broker import ExecutionEvent, OrderErrorEvent, OrderStatusEvent, SimBroker
from bot.sim.types import SimTick


def fills(events: list) -> list[tuple[float, float]]:
    return [
        (e.execution.shares, e.execution.price) for e in events if isinstance(e, ExecutionEvent)
    ]


def statuses(events: list, order_id: int | None = None) -> list[str]:
    return [
        e.status
        for e in events
        if isinstance(e, OrderStatusEvent) and order_id in (None, e.order_id)
    ]


def errors(events: list) -> list[tuple[int, str]]:
    return [(e.code, e.text) for e in events if isinstance(e, OrderErrorEvent)]


def place(b: SimBroker, o, minute: float = 0.5, con_id: int = AAPL, client: int = 1) -> list:
    return b.place_order(ACCT, client, contract(con_id), o, at(minute))


# --- market -------------------------------------------------------------------------------
def test_market_buy_fills_at_next_ask_plus_slippage() -> None:
    b = broker(slippage_ticks=1)
    assert statuses(place(b, order(1, "BUY", 100))) == ["Submitted"]
    # last 100.00, spread 0.02 -> ask 100.01; one tick of slippage -> 100.02
    ev = b.on_tick(tick(100.0))
    assert fills(ev) == [(100, 100.02)]
    assert statuses(ev) == ["Filled"]


def test_market_sell_fills_at_bid() -> None:
    b = broker(allow_short=True)
    place(b, order(1, "SELL", 10))
    assert fills(b.on_tick(tick(50.0))) == [(10, 49.99)]


# --- limit --------------------------------------------------------------------------------
def test_limit_marketable_on_arrival_fills_at_the_better_quote() -> None:
    b = broker()
    place(b, order(1, "BUY", 10, "LMT", lmtPrice=101.0))
    assert fills(b.on_tick(tick(100.0))) == [(10, 100.01)]


def test_resting_buy_limit_fills_at_limit_only_when_traded_through() -> None:
    b = broker()
    place(b, order(1, "BUY", 10, "LMT", lmtPrice=99.50))
    assert fills(b.on_tick(tick(100.0, 1))) == []
    # last == limit and ask 99.51 > limit: touched, not traded through
    assert fills(b.on_tick(tick(99.50, 2))) == []
    assert fills(b.on_tick(tick(99.49, 3))) == [(10, 99.50)]


def test_resting_sell_limit_fills_when_quote_crosses() -> None:
    b = broker()
    place(b, order(1, "SELL", 10, "LMT", lmtPrice=101.0))
    assert fills(b.on_tick(tick(100.0, 1))) == []
    # bid 101.00 reaches the limit although last 101.01 is the first trade above it
    wide = SimTick(at(2), AAPL, 101.0, 100, 101.0, 101.02, 100, 100)
    assert fills(b.on_tick(wide)) == [(10, 101.0)]


# --- stops --------------------------------------------------------------------------------
def test_sell_stop_gap_fills_at_gap_price_not_at_stop() -> None:
    b = broker()
    assert statuses(place(b, order(1, "SELL", 10, "STP", auxPrice=99.0))) == ["PreSubmitted"]
    assert b.on_tick(tick(100.0, 1)) == []
    assert fills(b.on_tick(tick(99.5, 2))) == []
    ev = b.on_tick(tick(97.0, 3))  # gap: first trade below the stop is 97.00, bid 96.99
    assert fills(ev) == [(10, 96.99)]


def test_buy_stop_triggers_on_last_at_stop() -> None:
    b = broker()
    place(b, order(1, "BUY", 10, "STP", auxPrice=101.0))
    assert fills(b.on_tick(tick(100.99, 1))) == []
    assert fills(b.on_tick(tick(101.0, 2))) == [(10, 101.01)]


def test_stop_limit_marketable_when_triggered() -> None:
    b = broker()
    place(b, order(1, "SELL", 10, "STP LMT", auxPrice=99.0, lmtPrice=98.5))
    assert fills(b.on_tick(tick(98.9, 1))) == [(10, 98.89)]  # bid 98.89 >= limit 98.50


def test_stop_limit_gap_rests_then_fills_at_limit() -> None:
    b = broker()
    place(b, order(1, "SELL", 10, "STP LMT", auxPrice=99.0, lmtPrice=98.5))
    ev = b.on_tick(tick(97.0, 1))  # triggered, bid 96.99 below the limit: rests
    assert fills(ev) == [] and statuses(ev) == ["Submitted"]
    assert fills(b.on_tick(tick(98.5, 2))) == []
    assert fills(b.on_tick(tick(98.6, 3))) == [(10, 98.5)]


def test_trailing_amount_ratchets_up_only_then_fills_as_market() -> None:
    b = broker()
    place(b, order(1, "SELL", 10, "TRAIL", auxPrice=1.0, trailStopPrice=99.0))
    b.on_tick(tick(100.0, 1))  # stop max(99, 100 - 1) = 99
    b.on_tick(tick(102.0, 2))  # stop 101
    b.on_tick(tick(101.5, 3))  # stays 101 (never loosens)
    (snap,) = b.open_orders(ACCT)
    assert snap.order.trailStopPrice == 101.0
    assert fills(b.on_tick(tick(101.2, 4))) == []
    assert fills(b.on_tick(tick(100.9, 5))) == [(10, 100.89)]


def test_trailing_percent_buy() -> None:
    b = broker()
    place(b, order(1, "BUY", 10, "TRAIL", trailingPercent=1.0))
    b.on_tick(tick(100.0, 1))  # first tick sets the stop: 100 + 1% = 101.00
    b.on_tick(tick(99.0, 2))  # down-ratchet: 99 + 0.99 = 99.99
    assert b.open_orders(ACCT)[0].order.trailStopPrice == 99.99
    assert fills(b.on_tick(tick(100.0, 3))) == [(10, 100.01)]


def test_market_if_touched_buy() -> None:
    b = broker()
    place(b, order(1, "BUY", 10, "MIT", auxPrice=99.0))
    assert fills(b.on_tick(tick(100.0, 1))) == []
    assert fills(b.on_tick(tick(98.9, 2))) == [(10, 98.91)]


# --- close orders and time in force -------------------------------------------------------
def test_moc_fills_at_closing_trade() -> None:
    b = broker()
    place(b, order(1, "BUY", 10, "MOC"))
    assert fills(b.on_tick(tick(104.0, 380))) == []
    close_tick = SimTick(CLOSE, AAPL, 105.0, 500, 104.99, 105.01, 100, 100)
    assert fills(b.on_tick(close_tick)) == [(10, 105.0)]


def test_moc_without_a_close_tick_fills_at_last_trade_on_time() -> None:
    b = broker()
    place(b, order(1, "SELL", 10, "MOC"))
    place(b, order(2, "BUY", 10, "LOC", lmtPrice=103.0))
    b.on_tick(tick(104.0, 389))
    ev = b.on_time(CLOSE)
    assert fills(ev) == [(10, 104.0)]
    assert statuses(ev, 2) == ["Cancelled"]  # close 104 above the buy limit 103


def test_day_expires_at_close_gtc_survives() -> None:
    b = broker()
    place(b, order(1, "BUY", 10, "LMT", lmtPrice=90.0))
    place(b, order(2, "BUY", 10, "LMT", lmtPrice=90.0, tif="GTC"))
    assert b.on_time(CLOSE - timedelta(seconds=1)) == []
    ev = b.on_time(CLOSE)
    assert statuses(ev) == ["Cancelled"] and errors(ev) == [(202, "Order Canceled - reason:")]
    assert [s.order.orderId for s in b.open_orders(ACCT)] == [2]


def test_ioc_cancels_what_the_first_tick_does_not_fill() -> None:
    b = broker(participation=0.1)
    place(b, order(1, "BUY", 100, "LMT", lmtPrice=101.0, tif="IOC"))
    ev = b.on_tick(tick(100.0, size=300))  # cap 30
    assert fills(ev) == [(30, 100.01)]
    assert statuses(ev) == ["Submitted", "Cancelled"]
    place(b, order(2, "BUY", 100, "LMT", lmtPrice=90.0, tif="IOC"), minute=2)
    assert statuses(b.on_tick(tick(100.0, 3))) == ["Cancelled"]


def test_fok_fills_all_or_nothing() -> None:
    b = broker(participation=0.1)
    place(b, order(1, "BUY", 100, tif="FOK"))
    ev = b.on_tick(tick(100.0, size=300))
    assert fills(ev) == [] and statuses(ev) == ["Cancelled"]
    place(b, order(2, "BUY", 100, tif="FOK"), minute=2)
    assert fills(b.on_tick(tick(100.0, 3, size=5000))) == [(100, 100.01)]


def test_outside_rth_held_until_open_unless_flagged() -> None:
    b = broker()
    pre = OPEN - timedelta(minutes=30)
    ev = b.place_order(ACCT, 1, contract(), order(1, "BUY", 10), pre)
    assert statuses(ev) == ["PreSubmitted"]
    b.place_order(ACCT, 1, contract(), order(2, "BUY", 10, outsideRth=True), pre)
    early = SimTick(pre + timedelta(minutes=1), AAPL, 100.0, 100, 99.99, 100.01, 100, 100)
    ev = b.on_tick(early)
    assert [(e.execution.orderId) for e in ev if isinstance(e, ExecutionEvent)] == [2]
    # a print at 09:30:00.000 closes the pre-market's last bar: still outside regular hours
    assert b.on_tick(tick(100.2, 0)) == []
    ev = b.on_tick(tick(100.5, 1 / 48))  # first regular-session tick, 09:30:01.25
    assert statuses(ev, 1) == ["Filled"] and fills(ev) == [(10, 100.51)]


def test_the_closing_print_at_16_00_is_inside_regular_hours() -> None:
    b = broker()
    b.place_order(ACCT, 1, contract(), order(1, "BUY", 10), at(389.5))
    ev = b.on_tick(SimTick(CLOSE, AAPL, 100.0, 100, 99.99, 100.01, 100, 100))
    assert fills(ev) == [(10, 100.01)]


# --- partial fills ------------------------------------------------------------------------
def test_partial_fills_cumulate_with_distinct_exec_ids() -> None:
    b = broker(participation=0.1)
    place(b, order(1, "BUY", 100, "LMT", lmtPrice=100.0))
    execs = []
    for minute, last in ((1, 99.0), (2, 99.5), (3, 99.0), (4, 98.0)):
        ev = b.on_tick(tick(last, minute, size=300))  # 10% of 300 = 30 per tick
        execs += [e for e in ev if isinstance(e, ExecutionEvent)]
    # first tick marketable on arrival at ask 99.01; later ones resting, fill at the limit
    assert [(e.execution.shares, e.execution.price) for e in execs] == [
        (30, 99.01),
        (30, 100.0),
        (30, 100.0),
        (10, 100.0),
    ]
    assert [e.execution.cumQty for e in execs] == [30, 60, 90, 100]
    assert len({e.execution.execId for e in execs}) == 4
    avg = (30 * 99.01 + 70 * 100.0) / 100
    assert abs(execs[-1].execution.avgPrice - avg) < 1e-9
    # the USD 1 minimum applies per order: 100 shares x 0.005 < 1, so 1.00 in total
    assert sum(e.commission_report.commission for e in execs) == 1.0
    (done,) = b.completed_orders(ACCT)
    assert (done.status, done.filled, done.remaining) == ("Filled", 100, 0)
    assert abs(done.avg_fill_price - avg) < 1e-9


def test_partial_fill_status_reports_filled_and_remaining() -> None:
    b = broker(participation=0.5)
    place(b, order(1, "SELL", 100))
    ev = b.on_tick(tick(100.0, size=120))  # cap 60
    (st,) = [e for e in ev if isinstance(e, OrderStatusEvent)]
    assert (st.status, st.filled, st.remaining, st.avg_fill_price) == ("Submitted", 60, 40, 99.99)


# --- brackets and OCA ---------------------------------------------------------------------
def test_bracket_held_until_last_child_transmits_then_children_wait_for_parent() -> None:
    b = broker()
    place(b, order(1, "BUY", 10, "LMT", lmtPrice=100.0, transmit=False))
    place(b, order(2, "SELL", 10, "LMT", lmtPrice=102.0, parentId=1, transmit=False))
    assert fills(b.on_tick(tick(99.0, 1))) == []  # not transmitted: not working
    ev = place(b, order(3, "SELL", 10, "STP", auxPrice=98.0, parentId=1), minute=1.5)
    assert statuses(ev, 1) == ["Submitted"]
    ev = b.on_tick(tick(99.0, 2))
    assert fills(ev) == [(10, 99.01)]
    assert statuses(ev, 2) == ["Submitted"]  # the stop child stays PreSubmitted
    assert [o.status for o in b.open_orders(ACCT)] == ["Submitted", "PreSubmitted"]
    # the take profit became active with the parent's fill, so this is its first tick:
    # marketable on arrival, it fills at the better bid 102.49
    ev = b.on_tick(tick(102.5, 3))
    assert fills(ev) == [(10, 102.49)]
    assert statuses(ev, 3) == ["Cancelled"]
    assert b.account(ACCT).position_rows()[0].position == 0


def test_cancelling_a_parent_cancels_its_children() -> None:
    b = broker()
    place(b, order(1, "BUY", 10, "LMT", lmtPrice=90.0, transmit=False))
    place(b, order(2, "SELL", 10, "STP", auxPrice=85.0, parentId=1))
    ev = b.cancel_order(ACCT, 1, 1, at(1))
    assert statuses(ev) == ["Cancelled", "Cancelled"]
    assert b.open_orders(ACCT) == []


def test_oca_type1_cancels_the_others_on_a_fill() -> None:
    b = broker()
    place(b, order(1, "BUY", 10, "LMT", lmtPrice=99.0, ocaGroup="g", ocaType=1))
    place(b, order(2, "BUY", 10, "LMT", lmtPrice=101.0, ocaGroup="g", ocaType=1))
    ev = b.on_tick(tick(100.0))
    assert fills(ev) == [(10, 100.01)]
    assert statuses(ev, 1) == ["Cancelled"]


def test_oca_type2_reduces_the_others_by_the_fill() -> None:
    b = broker(participation=0.1)
    place(b, order(1, "SELL", 100, "LMT", lmtPrice=101.0, ocaGroup="g", ocaType=2))
    place(b, order(2, "SELL", 100, "STP", auxPrice=95.0, ocaGroup="g", ocaType=2))
    b.on_tick(tick(100.0, 1))
    ev = b.on_tick(tick(101.5, 2, size=300))  # 30 of the limit
    assert fills(ev) == [(30, 101.0)]
    (reduced,) = [e for e in ev if isinstance(e, OrderStatusEvent) and e.order_id == 2]
    assert reduced.order.totalQuantity == 70 and reduced.remaining == 70
    ev = b.on_tick(tick(94.0, 3, size=10_000))  # the stop fires: only 70 left
    assert fills(ev) == [(70, 93.99)]
    # the limit is reduced to what it filled (30): complete
    assert statuses(ev, 1) == ["Filled"]
    assert b.account(ACCT).position_rows()[0].position == -100


# --- modify, cancel, validation -----------------------------------------------------------
def test_modify_price_and_quantity_by_replacing_the_order_id() -> None:
    b = broker()
    place(b, order(1, "BUY", 10, "LMT", lmtPrice=95.0))
    assert fills(b.on_tick(tick(100.0, 1))) == []
    ev = place(b, order(1, "BUY", 20, "LMT", lmtPrice=100.5), minute=1.5)
    assert statuses(ev) == ["Submitted"] and ev[0].remaining == 20
    assert fills(b.on_tick(tick(100.0, 2))) == [(20, 100.01)]
    ev = place(b, order(1, "BUY", 30, "LMT", lmtPrice=100.5), minute=3)
    assert errors(ev) == [(104, "Can't modify a filled order.")]


def test_cancel_errors_use_ib_texts() -> None:
    b = broker()
    assert errors(b.cancel_order(ACCT, 1, 77, at(1))) == [
        (10147, "OrderId 77 that needs to be cancelled is not found.")
    ]
    place(b, order(1, "BUY", 10, "LMT", lmtPrice=95.0))
    ev = b.cancel_order(ACCT, 1, 1, at(1))
    assert statuses(ev) == ["Cancelled"] and errors(ev) == [(202, "Order Canceled - reason:")]
    assert errors(b.cancel_order(ACCT, 1, 1, at(2))) == [
        (10148, "OrderId 1 that needs to be cancelled cannot be cancelled, state: Cancelled.")
    ]
    assert errors(place(b, order(1, "BUY", 10, "LMT", lmtPrice=96.0)))[0][0] == 103


def test_global_cancel_cancels_every_open_order_of_the_account() -> None:
    b = broker()
    place(b, order(1, "BUY", 10, "LMT", lmtPrice=95.0), client=1)
    place(b, order(1, "BUY", 10, "LMT", lmtPrice=95.0), client=2)
    ev = b.global_cancel(ACCT, at(1))
    assert statuses(ev) == ["Cancelled", "Cancelled"] and [c for c, _ in errors(ev)] == [202, 202]


def test_rejections() -> None:
    b = broker(cash=10_000)
    ev = place(b, order(1, "BUY", 10, "LMT", lmtPrice=100.005))
    assert statuses(ev) == ["Inactive"]
    assert errors(ev) == [
        (110, "The price does not conform to the minimum price variation for this contract.")
    ]
    assert errors(place(b, order(2, "BUY", 10, "MOC", tif="GTC")))[0][0] == 113
    assert errors(place(b, order(3, "BUY", 0)))[0][0] == 434
    assert errors(place(b, order(4, "BUY", 1, "VWAP")))[0][0] == 387
    from broker_helpers import NOSHORT

    code, text = errors(place(b, order(5, "SELL", 1), con_id=NOSHORT))[0]
    assert code == 201 and text.startswith("Order rejected - reason:")
    b.on_tick(tick(100.0))
    # 10,000 of equity carries 40,000 of stock at 25% margin: 401 shares is too many
    code, text = errors(place(b, order(6, "BUY", 401), minute=2))[0]
    assert code == 201 and "EQUITY WITH LOAN VALUE [10000.00 USD]" in text
    assert "INITIAL MARGIN [10025.00 USD]" in text
    assert statuses(place(b, order(7, "BUY", 400), minute=2)) == ["Submitted"]
    inactive = [s.order.orderId for s in b.completed_orders(ACCT) if s.status == "Inactive"]
    assert inactive == [1, 2, 3, 4, 5, 6]


def test_margin_is_checked_before_the_first_tick_at_the_reference_price() -> None:
    seen: list[tuple[int, object]] = []

    def last_price(con_id: int, now: object) -> float:
        seen.append((con_id, now))
        return 100.0

    b = SimBroker(INSTRUMENTS, reference_price=last_price)
    b.open_account(ACCT, 10_000)
    # no tick yet: 401 shares at the market's 100.00 need 10,025 of margin
    code, text = errors(place(b, order(1, "BUY", 401), minute=0))[0]
    assert code == 201 and "INITIAL MARGIN [10025.00 USD]" in text
    assert seen == [(AAPL, at(0))]
    assert statuses(place(b, order(2, "BUY", 400), minute=0)) == ["Submitted"]
    # without a reference price the order cannot be checked (the broker alone knows no price)
    alone = broker(cash=10_000)
    assert statuses(place(alone, order(1, "BUY", 401), minute=0)) == ["Submitted"]
    # once a tick arrived, the mark wins over the reference price
    b.on_tick(tick(50.0, 1))
    assert b.price(AAPL, at(1)) == 50.0
    assert statuses(place(b, order(3, "BUY", 200), minute=2)) == ["Submitted"]
