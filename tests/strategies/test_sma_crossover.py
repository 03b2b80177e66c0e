from __future__ import annotations

import math

import pytest
from pydantic import ValidationError
from strategy_helpers import NAN, T0, FakeContext, Sim, bar, series

from bot.model.events import TargetPosition
from bot.strategy.indicators import SMA
from strategies.sma_crossover import SmaCrossover, SmaCrossoverParams

UP, DOWN = "fast SMA crossed above slow", "fast SMA crossed below slow"


def make(ctx: FakeContext, **params: object) -> SmaCrossover:
    return SmaCrossover(ctx, SmaCrossoverParams.model_validate(params))


def cross(ctx: FakeContext, fast: tuple[float, float], slow: tuple[float, float]) -> None:
    ctx.script("fast", *fast)
    ctx.script("slow", *slow)


def test_declares_fast_and_slow_sma(ctx: FakeContext) -> None:
    assert make(ctx, fast=5, slow=20).indicators() == {"fast": SMA(5), "slow": SMA(20)}


def test_fast_must_be_below_slow() -> None:
    with pytest.raises(ValidationError, match="fast \\(30\\) must be less than slow \\(30\\)"):
        SmaCrossoverParams(fast=30, slow=30)


def test_cross_up_targets_the_sized_long(ctx: FakeContext) -> None:
    cross(ctx, fast=(101, 99), slow=(100, 100))
    assert make(ctx).on_bar(bar(T0, 123.0)) == [TargetPosition("AAPL", 81, UP)]  # 10000 / 123


def test_touching_then_crossing_counts_as_a_cross(ctx: FakeContext) -> None:
    cross(ctx, fast=(101, 100), slow=(100, 100))
    assert make(ctx).on_bar(bar(T0, 100.0)) == [TargetPosition("AAPL", 100, UP)]


@pytest.mark.parametrize(
    ("fast", "slow"),
    [((101, 100.5), (100, 100)), ((99, 99.5), (100, 100)), ((NAN, 99), (100, 100))],
)
def test_nothing_between_crosses_or_while_warming_up(
    ctx: FakeContext, fast: tuple[float, float], slow: tuple[float, float]
) -> None:
    cross(ctx, fast, slow)
    assert make(ctx).on_bar(bar(T0, 100.0)) == []


def test_long_flat_cross_down_exits(ctx: FakeContext) -> None:
    ctx.positions["AAPL"] = 81
    cross(ctx, fast=(99, 101), slow=(100, 100))
    assert make(ctx).on_bar(bar(T0, 100.0)) == [TargetPosition("AAPL", 0, DOWN)]


def test_long_flat_cross_down_when_flat_does_nothing(ctx: FakeContext) -> None:
    cross(ctx, fast=(99, 101), slow=(100, 100))
    assert make(ctx).on_bar(bar(T0, 100.0)) == []


def test_long_short_cross_down_reverses(ctx: FakeContext) -> None:
    ctx.positions["AAPL"] = 100
    cross(ctx, fast=(99, 101), slow=(100, 100))
    assert make(ctx, mode="long_short").on_bar(bar(T0, 80.0)) == [
        TargetPosition("AAPL", -125, DOWN)
    ]


def test_long_short_cross_up_covers_and_goes_long(ctx: FakeContext) -> None:
    ctx.positions["AAPL"] = -125
    cross(ctx, fast=(101, 99), slow=(100, 100))
    assert make(ctx, mode="long_short").on_bar(bar(T0, 80.0)) == [TargetPosition("AAPL", 125, UP)]


def test_no_order_when_sizing_allows_nothing(ctx: FakeContext) -> None:
    ctx.capital = 50
    cross(ctx, fast=(101, 99), slow=(100, 100))
    assert make(ctx).on_bar(bar(T0, 100.0)) == []


def test_already_at_target_sends_nothing(ctx: FakeContext) -> None:
    ctx.positions["AAPL"] = 100
    cross(ctx, fast=(101, 99), slow=(100, 100))
    assert make(ctx).on_bar(bar(T0, 100.0)) == []


@pytest.mark.parametrize("mode", ["long_flat", "long_short"])
def test_trades_on_real_indicators(mode: str) -> None:
    closes = [100 + 8 * math.sin(i / 15) for i in range(300)]
    sim = Sim(SmaCrossover, SmaCrossoverParams(fast=5, slow=20, mode=mode), FakeContext())
    sim.run(series(closes, T0, 900))
    targets = [i.quantity for i in sim.intents if isinstance(i, TargetPosition)]
    assert len(targets) >= 4
    first = next(i for i, q in enumerate(targets) if q > 0)
    longs, others = targets[first::2], targets[first + 1 :: 2]
    assert all(q > 0 for q in longs)  # long after each cross up, then flat/short after a cross down
    assert all(q == 0 for q in others) if mode == "long_flat" else all(q < 0 for q in others)
