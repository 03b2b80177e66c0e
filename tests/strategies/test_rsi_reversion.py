from __future__ import annotations

import math

import pytest
from pydantic import ValidationError
from strategy_helpers import NAN, T0, FakeContext, Sim, bar, fill, series

from bot.model.events import CancelOrder, ModifyOrder, OrderSpec, OrderType, PlaceOrder, Side
from bot.strategy.indicators import ATR, RSI
from strategies.rsi_reversion import RsiReversion, RsiReversionParams


def make(ctx: FakeContext, **params: object) -> RsiReversion:
    return RsiReversion(ctx, RsiReversionParams.model_validate(params))


def script(ctx: FakeContext, rsi: float, atr: float = 1.0) -> None:
    ctx.script("rsi", rsi)
    ctx.script("atr", atr)


def buy(qty: int, rsi: float) -> PlaceOrder:
    return PlaceOrder("AAPL", OrderSpec(Side.BUY, qty), tag="entry", reason=f"RSI {rsi:.1f} < 30.0")


def stop(qty: float, price: float) -> PlaceOrder:
    spec = OrderSpec(Side.SELL, qty, OrderType.STOP, stop_price=price, tif="GTC")
    return PlaceOrder("AAPL", spec, tag="stop", reason="protective stop")


def test_declares_rsi_and_wilder_atr(ctx: FakeContext) -> None:
    assert make(ctx).indicators() == {"rsi": RSI(14), "atr": ATR(14)}


def test_thresholds_must_be_ordered() -> None:
    with pytest.raises(ValidationError, match="oversold"):
        RsiReversionParams(oversold=70, overbought=30)


def test_buys_when_flat_and_oversold(ctx: FakeContext) -> None:
    script(ctx, rsi=29.9)
    assert make(ctx).on_bar(bar(T0, 80.0)) == [buy(125, 29.9)]


@pytest.mark.parametrize(("rsi", "atr"), [(30.0, 1.0), (50.0, 1.0), (NAN, 1.0), (10.0, NAN)])
def test_no_entry_otherwise(ctx: FakeContext, rsi: float, atr: float) -> None:
    script(ctx, rsi=rsi, atr=atr)
    assert make(ctx).on_bar(bar(T0, 80.0)) == []


def test_no_entry_when_sizing_allows_nothing(ctx: FakeContext) -> None:
    ctx.capital = 79
    script(ctx, rsi=10)
    assert make(ctx).on_bar(bar(T0, 80.0)) == []


def test_atr_stop_goes_in_on_the_fill_rounded(ctx: FakeContext) -> None:
    s = make(ctx, atr_mult=1.5)
    script(ctx, rsi=20, atr=1.333)
    s.on_bar(bar(T0, 80.0))
    assert s.on_fill(fill("entry", Side.BUY, 125, 80.01)) == [stop(125, 78.0)]  # 78.0005


def test_partial_entry_fills_grow_the_stop(ctx: FakeContext) -> None:
    s = make(ctx)
    script(ctx, rsi=20, atr=1.0)
    s.on_bar(bar(T0, 80.0))
    assert s.on_fill(fill("entry", Side.BUY, 100, 80.0)) == [stop(100, 78.0)]
    assert s.on_fill(fill("entry", Side.BUY, 25, 80.0)) == [
        ModifyOrder("AAPL", "stop", quantity=125, reason="entry filled more")
    ]


def test_holds_while_not_overbought_and_the_stop_does_not_move(ctx: FakeContext) -> None:
    s = make(ctx)
    ctx.positions["AAPL"] = 125
    ctx.add_order("stop", stop(125, 78.0).order)
    for rsi in (20.0, 50.0, 70.0):
        script(ctx, rsi=rsi, atr=0.1)
        assert s.on_bar(bar(T0, 90.0)) == []


def test_overbought_cancels_the_stop_then_sells(ctx: FakeContext) -> None:
    ctx.positions["AAPL"] = 125
    ctx.add_order("stop", stop(125, 78.0).order)
    script(ctx, rsi=70.1)
    assert make(ctx).on_bar(bar(T0, 90.0)) == [
        CancelOrder("AAPL", "stop", "exit"),
        PlaceOrder("AAPL", OrderSpec(Side.SELL, 125), tag="exit", reason="RSI 70.1 > 70.0"),
    ]


def test_no_double_exit_while_the_sell_is_working(ctx: FakeContext) -> None:
    ctx.positions["AAPL"] = 125
    ctx.add_order("exit", OrderSpec(Side.SELL, 125))
    script(ctx, rsi=90)
    assert make(ctx).on_bar(bar(T0, 90.0)) == []


def test_no_second_entry_while_the_buy_is_working(ctx: FakeContext) -> None:
    ctx.add_order("entry", OrderSpec(Side.BUY, 125))
    script(ctx, rsi=10)
    assert make(ctx).on_bar(bar(T0, 80.0)) == []


def test_flat_with_a_leftover_stop_cancels_it(ctx: FakeContext) -> None:
    ctx.add_order("stop", stop(125, 78.0).order)
    script(ctx, rsi=50)
    assert make(ctx).on_bar(bar(T0, 80.0)) == [CancelOrder("AAPL", "stop", "flat")]


def test_trades_on_real_indicators() -> None:
    # Sharp dips and rallies around a flat mean: oversold buys, overbought exits.
    closes = [100 + 6 * math.sin(i / 6) + 2 * math.sin(i / 1.7) for i in range(400)]
    sim = Sim(RsiReversion, RsiReversionParams(), FakeContext())
    sim.run(series(closes, T0, 900))
    tags = [f.tag for f in sim.fills]
    assert {"entry", "exit", "stop"} <= set(tags)
    stops = [i for i in sim.intents if isinstance(i, PlaceOrder) and i.tag == "stop"]
    assert len(stops) == tags.count("entry")  # one stop per position
    assert sim.ctx.position("AAPL") >= 0  # long only, never oversold into a short
