from __future__ import annotations

import math
from datetime import UTC, datetime

import pytest
from strategy_helpers import NAN, FakeContext, Sim, bar, fill, series

from bot.events import CancelOrder, ModifyOrder, OrderSpec, OrderType, PlaceOrder, Side
from bot.indicators import ATR, MACD, MACDValue, Stochastic, StochValue
from strategies.macd_stochastic import MacdStochastic, MacdStochasticParams

T0 = datetime(2024, 1, 2, 15, 0, tzinfo=UTC)
WHY = "MACD>signal, stoch>min rising"


def make(ctx: FakeContext, **params: object) -> MacdStochastic:
    return MacdStochastic(ctx, MacdStochasticParams.model_validate(params))


def script(ctx: FakeContext, *, macd=(1.0, 0.5), stoch=(40.0, 35.0), atr: float = 1.234) -> None:
    m, s = macd
    ctx.script("macd", MACDValue(m, s, m - s))
    ctx.script("stoch", *(StochValue(k=99.0, d=d) for d in stoch))  # the entry reads %D
    ctx.script("atr", atr)


def stop(qty: float, price: float) -> PlaceOrder:
    spec = OrderSpec(Side.SELL, qty, OrderType.STOP, stop_price=price, tif="GTC")
    return PlaceOrder("AAPL", spec, tag="stop", reason="protective stop")


def go_long(ctx: FakeContext, s: MacdStochastic, close: float = 150.0) -> float:
    """Entry bar, entry fill, and the executor's side of it; returns the stop price."""
    script(ctx)
    [entry] = s.on_bar(bar(T0, close))
    [placed] = s.on_fill(fill("entry", Side.BUY, entry.order.quantity, close))
    ctx.positions["AAPL"] = entry.order.quantity
    ctx.add_order("stop", placed.order)
    assert placed.order.stop_price is not None
    return placed.order.stop_price


def test_declares_the_course_indicators(ctx: FakeContext) -> None:
    assert make(ctx).indicators() == {
        "macd": MACD(12, 26, 9, source="course"),
        "stoch": Stochastic(20, 3),
        "atr": ATR(60, method="course"),
    }


def test_entry_is_a_market_buy_of_capital_over_close(ctx: FakeContext) -> None:
    script(ctx)
    intents = make(ctx).on_bar(bar(T0, 150.0))
    assert intents == [PlaceOrder("AAPL", OrderSpec(Side.BUY, 6), tag="entry", reason=WHY)]


def test_capital_param_sizes(ctx: FakeContext) -> None:
    script(ctx)
    [entry] = make(ctx, capital=5000).on_bar(bar(T0, 150.0))
    assert entry.order.quantity == 33


def test_skip_when_capital_buys_no_share(ctx: FakeContext) -> None:
    script(ctx)
    assert make(ctx).on_bar(bar(T0, 1500.01)) == []


@pytest.mark.parametrize(
    ("macd", "stoch", "atr"),
    [
        ((0.5, 0.5), (40.0, 35.0), 1.0),  # MACD not above signal
        ((0.4, 0.5), (40.0, 35.0), 1.0),
        ((1.0, 0.5), (30.0, 25.0), 1.0),  # stoch not above 30
        ((1.0, 0.5), (40.0, 40.0), 1.0),  # stoch not rising
        ((1.0, 0.5), (40.0, 45.0), 1.0),  # stoch falling
        ((NAN, NAN), (40.0, 35.0), 1.0),  # warming up
        ((1.0, 0.5), (40.0, NAN), 1.0),
        ((1.0, 0.5), (40.0, 35.0), NAN),
    ],
)
def test_no_entry_without_every_condition(
    ctx: FakeContext, macd: tuple[float, float], stoch: tuple[float, float], atr: float
) -> None:
    script(ctx, macd=macd, stoch=stoch, atr=atr)
    assert make(ctx).on_bar(bar(T0, 150.0)) == []


def test_stop_goes_in_when_the_entry_fills_at_close_minus_atr_rounded(ctx: FakeContext) -> None:
    s = make(ctx)
    script(ctx, atr=1.234)
    s.on_bar(bar(T0, 150.0))
    assert s.on_fill(fill("entry", Side.BUY, 6, 150.02)) == [stop(6, 148.77)]


def test_stop_rounds_to_the_contract_tick() -> None:
    ctx = FakeContext(min_tick=0.05)
    s = make(ctx)
    script(ctx, atr=1.234)
    s.on_bar(bar(T0, 150.0))
    assert s.on_fill(fill("entry", Side.BUY, 6, 150.0)) == [stop(6, 148.75)]


def test_partial_fills_grow_the_one_stop(ctx: FakeContext) -> None:
    s = make(ctx)
    script(ctx)
    s.on_bar(bar(T0, 150.0))
    assert s.on_fill(fill("entry", Side.BUY, 4, 150.0)) == [stop(4, 148.77)]
    assert s.on_fill(fill("entry", Side.BUY, 2, 150.0, order_id=1)) == [
        ModifyOrder("AAPL", "stop", quantity=6, reason="entry filled more")
    ]


def test_no_second_entry_while_the_buy_is_working(ctx: FakeContext) -> None:
    s = make(ctx)
    script(ctx)
    ctx.add_order("entry", OrderSpec(Side.BUY, 6))
    assert s.on_bar(bar(T0, 150.0)) == []


def test_stop_trails_up_only_and_is_never_stacked(ctx: FakeContext) -> None:
    s = make(ctx)
    assert go_long(ctx, s) == 148.77
    steps = [  # (close, atr) -> new stop or None
        ((152.0, 1.5), 150.5),
        ((151.0, 1.5), None),  # would be 149.50: below, the stop stays
        ((150.5, 0.5), None),  # 150.00
        ((150.6, 0.1), None),  # exactly 150.50: not higher
        ((153.004, 1.0), 152.0),
        ((140.0, 1.0), None),
    ]
    for i, ((close, atr), want) in enumerate(steps, start=1):
        script(ctx, atr=atr, macd=(2.0, 1.0), stoch=(80.0, 50.0))  # entry signal still on
        intents = s.on_bar(bar(T0, close))
        expect = (
            []
            if want is None
            else [ModifyOrder("AAPL", "stop", stop_price=want, reason=f"trail stop to {want}")]
        )
        assert intents == expect, f"step {i}"


def test_trail_uses_the_highest_of_own_and_working_stop(ctx: FakeContext) -> None:
    # The executor may report the old price until IB confirms a modify: never step below ours.
    s = make(ctx)
    go_long(ctx, s)
    script(ctx, atr=1.0)
    [m] = s.on_bar(bar(T0, 155.0))
    assert m == ModifyOrder("AAPL", "stop", stop_price=154.0, reason="trail stop to 154.0")
    script(ctx, atr=1.0)
    assert s.on_bar(bar(T0, 154.5)) == []  # 153.50 > stale 148.77 but < 154.00


def test_long_without_a_stop_gets_one(ctx: FakeContext) -> None:
    ctx.positions["AAPL"] = 7
    script(ctx, atr=2.0)
    assert make(ctx).on_bar(bar(T0, 100.0)) == [
        PlaceOrder(
            "AAPL",
            OrderSpec(Side.SELL, 7, OrderType.STOP, stop_price=98.0, tif="GTC"),
            tag="stop",
            reason="long without a stop",
        )
    ]


def test_a_stop_that_is_gone_is_replaced_not_modified(ctx: FakeContext) -> None:
    s = make(ctx)
    go_long(ctx, s)
    del ctx.orders["AAPL"]["stop"]  # e.g. a DAY stop expired at the close
    script(ctx, atr=1.0)
    [placed] = s.on_bar(bar(T0, 149.0))
    assert placed == PlaceOrder(
        "AAPL",
        OrderSpec(Side.SELL, 6, OrderType.STOP, stop_price=148.0, tif="GTC"),
        tag="stop",
        reason="long without a stop",
    )


def test_no_exit_but_the_stop(ctx: FakeContext) -> None:
    s = make(ctx)
    go_long(ctx, s)
    script(ctx, macd=(-5.0, 1.0), stoch=(5.0, 90.0), atr=10.0)  # everything bearish
    assert s.on_bar(bar(T0, 150.0)) == []


def test_flat_with_a_leftover_stop_cancels_it_then_can_reenter(ctx: FakeContext) -> None:
    s = make(ctx)
    go_long(ctx, s)
    ctx.positions["AAPL"] = 0  # e.g. closed by hand in TWS
    script(ctx)
    assert s.on_bar(bar(T0, 150.0)) == [
        CancelOrder("AAPL", "stop", "flat"),
        PlaceOrder("AAPL", OrderSpec(Side.BUY, 6), tag="entry", reason=WHY),
    ]


def test_stop_fill_then_a_new_entry_gets_a_fresh_stop(ctx: FakeContext) -> None:
    s = make(ctx)
    go_long(ctx, s)
    ctx.positions["AAPL"] = 0
    ctx.orders["AAPL"] = {}
    script(ctx, atr=2.0)
    [entry] = s.on_bar(bar(T0, 120.0))
    assert entry.order == OrderSpec(Side.BUY, 8)
    assert s.on_fill(fill("entry", Side.BUY, 8, 120.0)) == [stop(8, 118.0)]


def test_trades_on_real_indicators() -> None:
    closes = [100 + 10 * math.sin(i / 12) + 0.05 * i for i in range(400)]
    sim = Sim(MacdStochastic, MacdStochasticParams(capital=1000), FakeContext())
    sim.run(series(closes, T0, 900))
    entries = [f for f in sim.fills if f.tag == "entry"]
    stops = [f for f in sim.fills if f.tag == "stop"]
    assert entries and stops, "expected at least one entry stopped out"
    assert entries[0].quantity == int(1000 / entries[0].price)
    placed = [i for i in sim.intents if isinstance(i, PlaceOrder) and i.tag == "stop"]
    assert len(placed) == len(entries)  # one stop per position, trailed by ModifyOrder
    level, trails = -math.inf, 0
    for i in sim.intents:  # every position's stop only ever moves up
        if isinstance(i, PlaceOrder) and i.tag == "stop":
            level = i.order.stop_price
        elif isinstance(i, ModifyOrder) and i.stop_price is not None:
            assert i.stop_price > level
            level, trails = i.stop_price, trails + 1
    assert trails > 0
