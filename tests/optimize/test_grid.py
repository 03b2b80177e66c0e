"""--grid parsing: ranges (ints stay ints, floats exact), lists read as YAML scalars, seeded
random samples, names checked against the strategy's Params, refused combinations skipped."""

from __future__ import annotations

import pytest

from bot.research.optimize.grid import GridError, candidates, check_names, parse_grid
from strategies.sma_crossover import SmaCrossoverParams


def test_ranges_include_both_ends_and_stay_integers() -> None:
    g = parse_grid("fast=5..50:5, slow=20..200:10")
    assert g.names == ["fast", "slow"]
    fast, slow = g.axes
    assert fast.values == (5, 10, 15, 20, 25, 30, 35, 40, 45, 50)
    assert all(type(v) is int for v in fast.values + slow.values)
    assert slow.values[0] == 20 and slow.values[-1] == 200 and len(slow.values) == 19
    assert g.size == 190
    assert parse_grid("n=1..3").axes[0].values == (1, 2, 3)  # step 1 by default
    assert parse_grid("n=1..10:4").axes[0].values == (1, 5, 9)  # 10 is not on a step


def test_float_ranges_are_exact_decimals() -> None:
    (axis,) = parse_grid("k=0.1..0.5:0.1").axes
    assert axis.values == (0.1, 0.2, 0.3, 0.4, 0.5)
    assert parse_grid("k=1..2:0.5").axes[0].values == (1.0, 1.5, 2.0)
    assert parse_grid("k=1.0..3").axes[0].values == (1.0, 2.0, 3.0)


def test_lists_read_each_value_as_yaml_does() -> None:
    (axis,) = parse_grid("x=5|0.5|true|long_short").axes
    assert axis.values == (5, 0.5, True, "long_short")
    assert [type(v) for v in axis.values] == [int, float, bool, str]


def test_combinations_vary_the_last_axis_fastest() -> None:
    g = parse_grid("a=1|2,b=x|y")
    assert list(g.combinations()) == [{"a": 1, "b": "x"}, {"a": 1, "b": "y"},
                                      {"a": 2, "b": "x"}, {"a": 2, "b": "y"}]  # fmt: skip


def test_random_samples_are_seeded_distinct_and_in_grid_order() -> None:
    g = parse_grid("fast=1..20,slow=21..40")
    a, b = g.sample(15, seed=3), g.sample(15, seed=3)
    assert a == b and len({tuple(c.values()) for c in a}) == 15
    everything = list(g.combinations())
    assert [everything.index(c) for c in a] == sorted(everything.index(c) for c in a)
    assert g.sample(15, seed=4) != a
    assert g.sample(10_000, seed=0) == everything  # more than the grid holds: all of it


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("fast", "write name=a..b:step"),
        ("fast=", "write name=a..b:step"),
        ("fast=5..x:5", "a range is a..b:step with numbers"),
        ("fast=5..50:0", "step must be positive"),
        ("fast=5..50:-5", "step must be positive"),
        ("fast=50..5:5", "ends (5) before it starts (50)"),
        ("fast=5|10,fast=20", "given twice"),
        ("fast=5||10", "an empty value"),
        ("fast=5|5", "listed twice"),
        ("fast=5,,slow=20", "an empty entry"),
        ("fast=1..2000:1,slow=1..2000:1", "combinations (at most"),
    ],
)
def test_bad_grids_say_what_is_wrong(text: str, why: str) -> None:
    with pytest.raises(GridError, match="--grid") as e:
        parse_grid(text)
    assert why in str(e.value)


def test_unknown_names_list_the_strategy_and_its_parameters() -> None:
    with pytest.raises(GridError) as e:
        check_names(parse_grid("fast=5|10,slwo=20"), SmaCrossoverParams, "sma (sma_crossover)")
    msg = str(e.value)
    assert "'sma (sma_crossover)' has no parameter 'slwo'" in msg
    assert "fast, slow, mode" in msg


def test_combinations_the_params_model_refuses_are_skipped_and_counted() -> None:
    g = parse_grid("fast=10..30:10,slow=20|30")
    c = candidates(list(g.combinations()), {"mode": "long_short"}, SmaCrossoverParams)
    assert c.varied == [{"fast": 10, "slow": 20}, {"fast": 10, "slow": 30},
                        {"fast": 20, "slow": 30}]  # fmt: skip
    assert all(p["mode"] == "long_short" for p in c.params)  # the config's own values stay
    assert [combo for combo, _ in c.skipped] == [{"fast": 20, "slow": 20},
                                                  {"fast": 30, "slow": 20},
                                                  {"fast": 30, "slow": 30}]  # fmt: skip
    assert "must be less than slow" in c.skipped[0][1]
    bad = candidates([{"fast": "x", "slow": 30}], {}, SmaCrossoverParams)
    assert not bad.params and "fast" in bad.skipped[0][1]
