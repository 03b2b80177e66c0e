"""The in-process engine's tick skipping (bot/sim/tick_skipping.py) gives the very intents,
orders and fills of the full tick path: every example config over three days, once with the
skipping on and once with every tick of every instrument with a working order delivered.
config/backtest.yaml is the hard case: macd_stochastic moves its stop on every bar (a modify,
so the order arrives anew) and the stop must still fill exactly where the full path fills it."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from test_engine_parity import CONFIGS, FILLS, _assert_same, _rows, _run

import bot.backtest.inprocess as inprocess

FIRST, LAST = date(2026, 10, 19), date(2026, 10, 21)


@pytest.mark.parametrize("name", CONFIGS)
def test_skipping_ticks_changes_no_order_and_no_fill(
    name: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    skipping = _run(name, "inprocess", tmp_path / "skipping", FIRST, LAST)
    monkeypatch.setattr(inprocess, "quiet_between", lambda *_: False)
    monkeypatch.setattr(inprocess, "takes_any_price", lambda *_: False)
    every_tick = _run(name, "inprocess", tmp_path / "every-tick", FIRST, LAST)
    _assert_same(skipping, every_tick, f"{name}: skipping vs every tick")
    fills = _rows(skipping, FILLS)
    assert fills, f"{name}: no fill in the three days: the comparison proves little"
    if name == "backtest.yaml":
        assert any(r[1] and "stop" in str(r[1]) for r in fills), "no stop filled in the three days"

