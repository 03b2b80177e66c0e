"""An isolated strategy registry holding tiny test strategies, so config tests do not depend on
(or leak into) the strategies other pieces register."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, ConfigDict, Field

from bot.strategy import registry
from bot.strategy.api import Strategy


class CrossParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    fast: int = Field(5, gt=0)
    slow: int = 20
    side: Literal["long", "short", "both"] = "long"


class MacdParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    signal: int = 9
    k_period: int


class TinyCross(Strategy[CrossParams]):
    Params = CrossParams


class MacdStochastic(Strategy[MacdParams]):
    Params = MacdParams


@pytest.fixture(autouse=True)
def test_registry(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setattr(registry, "_registry", {})
    monkeypatch.setattr(registry, "_discovered", True)
    registry.register("tiny_cross")(TinyCross)
    registry.register("macd_stochastic")(MacdStochastic)
    yield


@pytest.fixture
def write(tmp_path: Path) -> Callable[[str], Path]:
    """Write YAML text to tmp_path/bot.yaml (leading newline and indentation removed)."""
    import textwrap

    def _write(text: str, name: str = "bot.yaml") -> Path:
        path = tmp_path / name
        path.write_text(textwrap.dedent(text).lstrip("\n"), encoding="utf-8")
        return path

    return _write
