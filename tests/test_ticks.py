"""One price grid for the bot, the simulated market and the simulated broker
(bot/model/price_grid.py)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bot.model.price_grid import (
    Rounding,
    on_tick_grid,
    round_array_to_tick,
    round_to_tick,
    tick_decimals,
)
from bot.sim.datafile import SourceBars
from bot.sim.instruments import DEFAULT_INSTRUMENTS_FILE, Instruments
from bot.sim.market import Market

TICKS = [0.01, 0.05, 0.125, 0.25, 0.5, 0.00005, 1 / 32, 1.0]
PRICES = st.floats(min_value=0.0, max_value=100_000, allow_nan=False, allow_infinity=False)
HOWS: st.SearchStrategy[Rounding] = st.sampled_from(["nearest", "up", "down"])


def test_rounds_to_the_nearest_tick_without_float_residue() -> None:
    assert repr(round_to_tick(150.049999, 0.01)) == "150.05"
    assert round_to_tick(1.082374, 0.00005) == 1.08235
    assert round_to_tick(99.996, 0.05) == 100.0
    assert round_to_tick(12.3456, 0.0) == 12.3456  # no grid: unchanged


def test_quarter_and_thirty_second_ticks_stay_on_their_grid() -> None:
    # The old bridge rule wrote 0.25 multiples with one decimal (374.25 -> 374.2), the old
    # bot rule 1/32 multiples with four (100.03125 -> 100.0312).
    assert round_to_tick(374.31, 0.25) == 374.25
    assert round_array_to_tick(np.array([374.31]), 0.25).tolist() == [374.25]
    assert round_to_tick(100.03, 1 / 32) == 100.03125
    assert [tick_decimals(t) for t in (0.25, 1 / 32, 0.00005, 0.5, 1.0, 5.0)] == [2, 5, 5, 1, 0, 0]


def test_up_and_down_ignore_float_noise_but_nothing_more() -> None:
    assert round_to_tick(100.05, 0.05, "up") == 100.05  # 100.05 / 0.05 = 2000.9999999999998
    assert round_to_tick(100.05, 0.05, "down") == 100.05
    assert round_to_tick(100.0501, 0.05, "up") == 100.1
    assert round_to_tick(100.0499, 0.05, "down") == 100.0


def _on_grid_exactly(price: float, tick: float) -> bool:
    """The decimal the float stands for is a whole multiple of the tick as written."""
    return Decimal(repr(price)) % Decimal(repr(tick)) == 0


@settings(max_examples=400, deadline=None)
@given(PRICES, st.sampled_from(TICKS), HOWS)
def test_a_rounded_price_is_on_the_grid_and_where_it_should_be(
    price: float, tick: float, how: Rounding
) -> None:
    r = round_to_tick(price, tick, how)
    d = tick_decimals(tick)
    assert _on_grid_exactly(r, tick)
    assert round(round(r / tick) * tick, d) == r  # reproduced exactly by the decimal rounding
    assert round_to_tick(r, tick, how) == r  # idempotent
    assert on_tick_grid(r, tick)  # what the broker checks
    slack = 1e-6 * tick
    if how == "nearest":
        assert abs(r - price) <= tick / 2 + slack + 1e-12 * price
    elif how == "up":
        assert price - slack - 1e-12 * price <= r < price + tick
    else:
        assert price - tick < r <= price + slack + 1e-12 * price


@settings(max_examples=200, deadline=None)
@given(st.lists(PRICES, min_size=1, max_size=50), st.sampled_from(TICKS), HOWS)
def test_scalar_and_array_forms_agree_bit_for_bit(
    prices: list[float], tick: float, how: Rounding
) -> None:
    arr = round_array_to_tick(np.array(prices), tick, how)
    assert arr.tolist() == [round_to_tick(p, tick, how) for p in prices]


@given(PRICES, st.sampled_from([0.01, 0.05, 0.25, 0.00005, 0.5, 1.0]))
def test_a_price_the_bot_rounds_is_one_the_broker_accepts(price: float, tick: float) -> None:
    assert on_tick_grid(round_to_tick(price, tick), tick)


@settings(max_examples=30, deadline=None)
@given(st.sampled_from([0.25, 0.125, 1 / 32, 0.05]), st.integers(1, 3), st.integers(0, 2**32))
def test_market_ticks_and_quotes_are_on_the_instrument_grid(
    tick: float, width: int, seed: int
) -> None:
    base = Instruments.load(DEFAULT_INSTRUMENTS_FILE).by_symbol("AAPL")
    inst = dataclasses.replace(base, min_tick=tick, spread=width * tick)
    rng = np.random.default_rng(seed)
    n = 30
    o = np.round(rng.uniform(100, 400, n), 2)  # source prices off the tick grid
    c = np.round(o + rng.uniform(-2, 2, n), 2)
    h, lo = np.maximum(o, c) + 0.37, np.minimum(o, c) - 0.41
    start = int(datetime(2026, 11, 24, 14, 30, tzinfo=UTC).timestamp())
    t = start + 60 * np.arange(n, dtype=np.int64)
    bars = SourceBars(Path("synthetic"), 60, t, o, h, lo, c, np.full(n, 1000.0))
    market = Market.from_bars(Instruments([inst]), {inst.con_id: bars}, seed)
    ticks = list(market.ticks(datetime.fromtimestamp(start, UTC), market.last_time()))
    prices = {x.last for x in ticks if x.last not in (*o, *h, *lo, *c)}  # OHLC are pinned as given
    assert prices and all(_on_grid_exactly(p, tick) for p in prices)
    assert all(_on_grid_exactly(x.bid, tick) and _on_grid_exactly(x.ask, tick) for x in ticks)
    assert all(abs(x.ask - x.bid - width * tick) < 1e-9 for x in ticks)
