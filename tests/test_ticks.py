"""One price grid for the bot and the simulated broker."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from bot.sim.matching import on_tick_grid
from bot.ticks import round_to_tick


def test_rounds_to_the_nearest_tick_without_float_residue() -> None:
    assert repr(round_to_tick(150.049999, 0.01)) == "150.05"
    assert round_to_tick(1.082374, 0.00005) == 1.08235
    assert round_to_tick(99.996, 0.05) == 100.0
    assert round_to_tick(12.3456, 0.0) == 12.3456  # no grid: unchanged


@given(
    st.floats(min_value=0.0001, max_value=100_000, allow_nan=False),
    st.sampled_from([0.01, 0.05, 0.25, 0.00005, 0.5, 1.0]),
)
def test_a_price_the_bot_rounds_is_one_the_broker_accepts(price: float, tick: float) -> None:
    assert on_tick_grid(round_to_tick(price, tick), tick)
