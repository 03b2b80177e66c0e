"""The README cannot go stale: its strategy table is generated, its example strategy runs, and
its test command is the one CI runs."""

from __future__ import annotations

import math
import re
import subprocess
import sys
import types
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.model.events import Bar, CancelOrder, PlaceOrder, Side, TargetPosition
from bot.strategy.indicators import IndicatorSet, IndicatorSpec

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def test_strategy_table_is_generated_from_the_code() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "bot", "strategies", "--markdown"],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    ).stdout.strip()
    section = re.search(r"<!-- BEGIN STRATEGIES -->\n(.*?)\n<!-- END STRATEGIES -->", README, re.S)
    assert section is not None
    assert section.group(1).strip() == out


def test_setup_commands_open_the_readme_and_ci_runs_the_test_command() -> None:
    blocks = re.findall(r"```bash\n(.*?)```", README, re.S)
    commands = [ln for ln in blocks[0].splitlines() if ln and not ln.startswith("#")]
    assert len(commands) == 2
    assert commands[0].endswith("ibbot run config/demo.yaml")
    assert commands[1].endswith("python -m pytest -q")
    ci = (ROOT / ".ci" / "run").read_text()
    assert commands[1].split("&& ")[-1] in ci


class _Ctx:
    """Just enough context for the README strategy: $10k sizing, cent ticks, real indicators."""

    strategy_id, symbols = "readme", ("AAPL",)

    def __init__(self) -> None:
        self.specs: dict[str, IndicatorSpec] = {}
        self.ind = IndicatorSet()
        self.held = 0.0

    def attach(self, specs: Mapping[str, IndicatorSpec]) -> None:
        self.specs = dict(specs)
        for spec in self.specs.values():
            self.ind.add(spec)

    def indicator(self, symbol: str, name: str, ago: int = 0) -> Any:
        return self.ind.value(self.specs[name], ago)

    def position(self, symbol: str) -> float:
        return self.held

    def quantity_for(self, symbol: str, price: float) -> int:
        return int(10_000 / price)

    def round_to_tick(self, symbol: str, price: float) -> float:
        return round(price, 2)


def test_the_example_strategy_runs_and_trades() -> None:
    code = re.search(r"## Write your own strategy.*?```python\n(.*?)```", README, re.S)
    assert code is not None
    assert len(code.group(1).splitlines()) < 40
    module = types.ModuleType("readme_example")
    exec(compile(code.group(1), "README.md", "exec"), module.__dict__)
    ctx = _Ctx()
    strategy = module.EmaTrend(ctx, module.EmaTrendParams(ema=20))
    ctx.attach(strategy.indicators())
    t0 = datetime(2026, 10, 1, 13, 30, tzinfo=UTC)
    entries: list[tuple[float, TargetPosition, PlaceOrder]] = []
    exits = 0
    for i in range(120):
        close = round(100 + 5 * math.sin(i / 15), 2)
        bar = Bar(
            "AAPL", t0 + timedelta(minutes=i), close, close + 0.5, close - 0.5, close, 1e4, 60
        )
        ctx.ind.on_bar(bar)
        intents = list(strategy.on_bar(bar))
        if intents and isinstance(intents[0], TargetPosition):
            entries.append((close, intents[0], intents[1]))  # type: ignore[arg-type]
            ctx.held = intents[0].quantity
        elif intents:
            assert isinstance(intents[0], CancelOrder) and intents[1] == TargetPosition(
                "AAPL", 0, reason="below EMA"
            )
            exits += 1
            ctx.held = 0
    assert entries and exits
    for close, target, stop in entries:
        assert target.quantity == int(10_000 / close)
        assert stop.tag == "stop" and stop.order.action is Side.SELL
        assert stop.order.quantity == target.quantity
        assert stop.order.stop_price is not None and stop.order.stop_price < close
