from __future__ import annotations

import math

import pytest
from strategy_helpers import NAN, T0, FakeContext, Sim, bar, series

from bot.model.events import TargetPosition
from bot.strategy.indicators import ADX, ADXValue, Bollinger, BollingerValue
from strategies.bollinger_breakout import BollingerBreakout, BollingerBreakoutParams

BAND = BollingerValue(middle=100.0, upper=104.0, lower=96.0, width=8.0, width_abs=8.0)


def make(ctx: FakeContext, **params: object) -> BollingerBreakout:
    return BollingerBreakout(ctx, BollingerBreakoutParams.model_validate(params))


def script(ctx: FakeContext, adx: float = 30.0, band: BollingerValue = BAND) -> None:
    ctx.script("bb", band)
    ctx.script("adx", ADXValue(adx, 25.0, 15.0))


def test_declares_bands_and_adx(ctx: FakeContext) -> None:
    s = make(ctx, n=10, k=2.5, middle="ema", adx_n=7)
    assert s.indicators() == {"bb": Bollinger(10, 2.5, "ema"), "adx": ADX(7)}


def test_close_above_the_band_with_a_trend_goes_long(ctx: FakeContext) -> None:
    script(ctx, adx=30.04)
    assert make(ctx).on_bar(bar(T0, 104.01)) == [
        TargetPosition("AAPL", 96, "close above the upper band, ADX 30.0")
    ]


def test_close_below_the_band_with_a_trend_goes_short(ctx: FakeContext) -> None:
    script(ctx)
    assert make(ctx).on_bar(bar(T0, 95.0)) == [
        TargetPosition("AAPL", -105, "close below the lower band, ADX 30.0")
    ]


def test_no_short_when_not_allowed(ctx: FakeContext) -> None:
    script(ctx)
    assert make(ctx, allow_short=False).on_bar(bar(T0, 95.0)) == []


@pytest.mark.parametrize(
    ("close", "adx"),
    [(104.0, 30.0), (96.0, 30.0), (100.0, 30.0), (110.0, 25.0), (90.0, 10.0), (110.0, NAN)],
)
def test_no_entry_inside_the_band_or_without_a_trend(
    ctx: FakeContext, close: float, adx: float
) -> None:
    script(ctx, adx=adx)
    assert make(ctx).on_bar(bar(T0, close)) == []


def test_no_entry_while_warming_up(ctx: FakeContext) -> None:
    script(ctx, band=BollingerValue(NAN, NAN, NAN, NAN, NAN))
    assert make(ctx).on_bar(bar(T0, 110.0)) == []


def test_long_exits_at_the_middle_line(ctx: FakeContext) -> None:
    ctx.positions["AAPL"] = 96
    s = make(ctx)
    script(ctx, adx=5.0)  # a fading trend does not exit by itself
    assert s.on_bar(bar(T0, 100.01)) == []
    assert s.on_bar(bar(T0, 100.0)) == [
        TargetPosition("AAPL", 0.0, "close back at/below the middle line")
    ]


def test_short_exits_at_the_middle_line(ctx: FakeContext) -> None:
    ctx.positions["AAPL"] = -105
    s = make(ctx)
    script(ctx)
    assert s.on_bar(bar(T0, 99.99)) == []
    assert s.on_bar(bar(T0, 101.0)) == [
        TargetPosition("AAPL", 0.0, "close back at/above the middle line")
    ]


def test_a_pending_target_is_not_sent_twice(ctx: FakeContext) -> None:
    s = make(ctx)
    script(ctx)
    assert len(s.on_bar(bar(T0, 105.0))) == 1
    assert s.on_bar(bar(T0, 106.0)) == []  # the position has not caught up yet
    ctx.positions["AAPL"] = 95
    assert s.on_bar(bar(T0, 99.0)) == [
        TargetPosition("AAPL", 0.0, "close back at/below the middle line")
    ]


def test_a_target_that_never_filled_can_be_sent_again_later(ctx: FakeContext) -> None:
    s = make(ctx)
    script(ctx)
    assert len(s.on_bar(bar(T0, 105.0))) == 1  # say the risk stage rejected it
    assert s.on_bar(bar(T0, 101.0)) == []  # back inside the band: nothing wanted
    assert len(s.on_bar(bar(T0, 105.0))) == 1


def test_trades_on_real_indicators() -> None:
    # Quiet ranges broken by strong trends up and down.
    closes: list[float] = []
    px = 100.0
    for i in range(600):
        leg = (i // 60) % 4  # quiet, rally, quiet, selloff
        px += {0: 0.0, 1: 0.6, 2: 0.0, 3: -0.6}[leg] + 0.3 * math.sin(i)
        closes.append(px)
    sim = Sim(BollingerBreakout, BollingerBreakoutParams(), FakeContext())
    sim.run(series(closes, T0, 900))
    targets = [i.quantity for i in sim.intents if isinstance(i, TargetPosition)]
    assert any(q > 0 for q in targets) and any(q < 0 for q in targets)
    assert targets.count(0.0) >= len(targets) // 2  # every entry exits at the middle line
