from __future__ import annotations

import math
from dataclasses import replace
from datetime import timedelta

import pytest
from strategy_helpers import NAN, T0, FakeContext, Sim, bar, fill, series

from bot.model.events import Bar, CancelOrder, ModifyOrder, OrderSpec, OrderType, PlaceOrder, Side
from bot.strategy.indicators import ATR, MACD, MACDValue, Stochastic, StochValue
from strategies.macd_stochastic import MacdStochastic, MacdStochasticParams

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


def move(price: float) -> ModifyOrder:
    return ModifyOrder("AAPL", "stop", stop_price=price, reason=f"move stop to {price}")


def test_defaults_are_ratchet_tick_rounding_and_reentry_on_the_stop_bar() -> None:
    p = MacdStochasticParams()
    assert (p.trail, p.stop_round, p.reenter_on_stop_bar) == ("ratchet", None, True)


def test_course_trail_resets_the_stop_every_bar_and_lets_it_fall(ctx: FakeContext) -> None:
    s = make(ctx, trail="course")
    assert go_long(ctx, s) == 148.77
    steps = [  # (close, atr) -> the stop's new price (close - ATR), or None if unchanged
        ((152.0, 1.5), 150.5),  # up
        ((151.0, 1.5), 149.5),  # down: a ratchet would keep 150.50
        ((150.0, 0.5), None),  # 149.50 again: no modify to the same price
        ((147.0, 2.0), 145.0),  # down again
        ((153.004, 1.0), 152.0),  # up
    ]
    for i, ((close, atr), want) in enumerate(steps, start=1):
        script(ctx, atr=atr, macd=(2.0, 1.0), stoch=(80.0, 50.0))
        assert s.on_bar(bar(T0, close)) == ([] if want is None else [move(want)]), f"step {i}"


def test_course_trail_compares_with_its_own_last_request_not_a_stale_report(
    ctx: FakeContext,
) -> None:
    s = make(ctx, trail="course")
    go_long(ctx, s)  # the executor still reports 148.77 below
    script(ctx, atr=1.0)
    assert s.on_bar(bar(T0, 155.0)) == [move(154.0)]
    script(ctx, atr=1.0)
    assert s.on_bar(bar(T0, 155.0)) == []  # 154.00 was asked already
    script(ctx, atr=1.0)
    assert s.on_bar(bar(T0, 149.77)) == [move(148.77)]  # back to the reported price: asked


def test_stop_round_steps_then_the_tick_grid(ctx: FakeContext) -> None:
    s = make(ctx, stop_round=0.1)
    script(ctx, atr=1.234)
    s.on_bar(bar(T0, 150.0))
    # 150 - 1.234 = 148.766 -> 148.8 (the course's round(x, 1)); on the cent grid already
    assert s.on_fill(fill("entry", Side.BUY, 6, 150.02)) == [stop(6, 148.8)]
    ctx.positions["AAPL"] = 6
    ctx.add_order("stop", stop(6, 148.8).order)
    script(ctx, atr=1.23)
    [trail] = s.on_bar(bar(T0, 152.0))  # 150.77 -> 150.8, when trailing too
    assert trail == ModifyOrder("AAPL", "stop", stop_price=150.8, reason="trail stop to 150.8")


def test_stop_round_then_a_coarser_tick() -> None:
    ctx = FakeContext(min_tick=0.25)
    s = make(ctx, stop_round=0.1)
    script(ctx, atr=1.234)
    s.on_bar(bar(T0, 150.0))
    # 148.766 -> 148.8 on the 0.1 step -> 148.75 on the 0.25 tick grid the exchange accepts
    assert s.on_fill(fill("entry", Side.BUY, 6, 150.0)) == [stop(6, 148.75)]


@pytest.mark.parametrize("bad", [0, -0.1, "inf", "nan"])
def test_stop_round_must_be_a_positive_step(bad: object) -> None:
    with pytest.raises(ValueError, match="stop_round"):
        MacdStochasticParams.model_validate({"stop_round": bad})


def test_trail_must_be_ratchet_or_course() -> None:
    with pytest.raises(ValueError, match="trail"):
        MacdStochasticParams.model_validate({"trail": "down"})


def stopped_out(ctx: FakeContext, s: MacdStochastic) -> None:
    """Long, then the stop fills at T0 (the start of the bar at T0): flat, no order left."""
    go_long(ctx, s)
    assert s.on_fill(fill("stop", Side.SELL, 6, 148.77)) == []
    ctx.positions["AAPL"] = 0
    ctx.orders["AAPL"] = {}
    script(ctx)  # the entry rule holds at this bar's close


def test_default_reenters_on_the_bar_the_stop_filled(ctx: FakeContext) -> None:
    s = make(ctx)
    stopped_out(ctx, s)
    assert s.on_bar(bar(T0, 150.0)) == [
        PlaceOrder("AAPL", OrderSpec(Side.BUY, 6), tag="entry", reason=WHY)
    ]


def test_no_reentry_on_the_stop_bar_waits_for_the_next_bar(ctx: FakeContext) -> None:
    s = make(ctx, reenter_on_stop_bar=False)
    stopped_out(ctx, s)
    assert s.on_bar(bar(T0, 150.0)) == []  # the stop filled during this bar
    script(ctx)
    assert s.on_bar(bar(T0 + timedelta(minutes=15), 150.0)) == [
        PlaceOrder("AAPL", OrderSpec(Side.BUY, 6), tag="entry", reason=WHY)
    ]


SINE = series([100 + 10 * math.sin(i / 12) + 0.05 * i for i in range(400)], T0, 900)


def run_sim(bars: list[Bar], **params: object) -> Sim:
    sim = Sim(MacdStochastic, MacdStochasticParams(capital=1000, **params), FakeContext())
    sim.run(bars)
    return sim


def same_bar_reentries(sim: Sim) -> int:
    """Entries filled at the close of the bar in which a stop filled (the Sim stamps a stop
    fill with its bar's start and a market fill with its bar's end)."""
    stops = {f.time for f in sim.fills if f.tag == "stop"}
    return sum(f.time - timedelta(minutes=15) in stops for f in sim.fills if f.tag == "entry")


def test_reentry_rule_on_real_indicators() -> None:
    # a wavy uptrend whose every 7th bar dips 4 below its range and closes back up: the dip
    # fills the stop while the entry rule still holds at the close
    closes = [100 + 0.08 * i + 1.5 * math.sin(i / 5) for i in range(300)]
    bars = [
        replace(b, low=b.low - 4) if i % 7 == 3 else b
        for i, b in enumerate(series(closes, T0, 900))
    ]
    assert same_bar_reentries(run_sim(bars)) > 0
    course = run_sim(bars, reenter_on_stop_bar=False)
    assert same_bar_reentries(course) == 0
    assert len([f for f in course.fills if f.tag == "entry"]) > 5, "it still trades"


def test_course_trail_on_real_indicators_moves_the_stop_both_ways() -> None:
    sim = run_sim(SINE, trail="course", stop_round=0.1)
    level, ups, downs = math.nan, 0, 0
    for i in sim.intents:
        if isinstance(i, PlaceOrder) and i.tag == "stop":
            level = i.order.stop_price
        elif isinstance(i, ModifyOrder) and i.stop_price is not None:
            assert i.stop_price != level
            ups, downs = ups + (i.stop_price > level), downs + (i.stop_price < level)
            level = i.stop_price
        if isinstance(i, (PlaceOrder, ModifyOrder)) and i.tag == "stop" and level == level:
            assert round(level * 10) == pytest.approx(level * 10)  # on the 0.1 step
    assert ups > 0 and downs > 0
    assert [f for f in sim.fills if f.tag == "stop"], "positions still exit through the stop"
