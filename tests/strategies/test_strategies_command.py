from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

import pytest

from bot.cli import main
from bot.commands.strategies import param_docs, type_name, yaml_value
from bot.config.load import load_config
from bot.strategy import registry

BUILT_IN = [
    "bollinger_breakout",
    "macd_stochastic",
    "opening_range_breakout",
    "rsi_reversion",
    "sma_crossover",
]
CONFIG = Path(__file__).resolve().parents[2] / "config"


def test_every_built_in_strategy_is_registered() -> None:
    assert set(BUILT_IN) <= set(registry.known())


def test_lists_every_strategy_and_param(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strategies"]) == 0
    out = capsys.readouterr().out
    for name in BUILT_IN:
        assert f"{name}: " in out
        for d in param_docs(registry.get(name).Params):
            assert d.description, f"{name}.{d.name} has no description"
            assert d.name in out and d.description in out


def test_markdown_table(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strategies", "--markdown", "opening_range_breakout"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("### `opening_range_breakout`\n")
    assert "| Parameter | Type | Default | Description |" in out
    assert '| `cutoff` | time \\| null | `"15:45"` |' in out
    assert "| `vol_mult` | float | `2.0` |" in out


def test_unknown_name_suggests_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["strategies", "sma_crosover"]) == 2
    assert "did you mean 'sma_crossover'?" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("tp", "want"),
    [(int, "int"), (float | None, "float | null"), (Literal["a", "b"], '"a" | "b"')],
)
def test_type_names(tp: object, want: str) -> None:
    assert type_name(tp) == want


@pytest.mark.parametrize(
    ("v", "want"), [(None, "null"), (True, "true"), (time(15, 45), '"15:45"'), ("GTC", '"GTC"')]
)
def test_yaml_values(v: object, want: str) -> None:
    assert yaml_value(v) == want


@pytest.mark.parametrize("name", BUILT_IN)
def test_example_config_loads(name: str) -> None:
    cfg = load_config(CONFIG / f"{name}.yaml")
    [strategy] = cfg.strategies
    assert strategy.class_ == name
    assert cfg.gateway is not None  # runs on the simulated gateway
