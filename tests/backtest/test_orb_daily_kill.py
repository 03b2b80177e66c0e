"""``opening_range_breakout``'s daily kill is the risk stage's (its params map onto
``strategies[i].risk``): the ORB example backtest sends the same orders as the strategy's own
kill switch did. The oracle is that kill switch, kept here as a subclass."""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from datetime import date, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import yaml

from bot.backtest.runner import plan, run_backtest
from bot.config.load import load_config
from bot.model.events import Bar, KillSwitch, OrderIntent
from bot.strategy.registry import register
from strategies.opening_range_breakout import OpeningRangeBreakout, _Day

ROOT = Path(__file__).resolve().parents[2]
DAYS = (date(2026, 10, 12), date(2026, 10, 16))


@register("orb_own_kill")
class OwnKill(OpeningRangeBreakout):
    """The ORB as it was: its own KillSwitch at a P&L limit or the cut-off (trigger close)."""

    @classmethod
    def risk_limits(cls, params: Any) -> Mapping[str, Any]:
        return {}  # no limits for the risk stage: the strategy kills itself

    def __init__(self, ctx: Any, params: Any) -> None:
        super().__init__(ctx, params)
        self._killed: datetime | None = None
        self._kill_now: list[OrderIntent] | None = None

    def on_bar(self, bar: Bar) -> list[OrderIntent]:
        self._kill_now = None
        out = super().on_bar(bar)
        return self._kill_now if self._kill_now is not None else out

    def _observe(self, bar: Bar) -> tuple[_Day, float | None] | None:
        seen = super()._observe(bar)
        if seen is not None and self._killed != seen[0].open:
            kill = self._kill(bar.end)
            if kill is not None:
                self._killed, self._kill_now = seen[0].open, kill
        return seen

    def _breakout(self, day: _Day, *args: Any) -> list[OrderIntent]:
        return [] if self._killed == day.open else super()._breakout(day, *args)

    def _kill(self, now: datetime) -> list[OrderIntent] | None:
        p, pnl = self.params, self.ctx.pnl_today()
        if p.max_daily_profit is not None and pnl >= p.max_daily_profit:
            return [KillSwitch(f"daily profit {pnl:.2f} >= {p.max_daily_profit:.2f}")]
        if p.max_daily_loss is not None and pnl <= -p.max_daily_loss:
            return [KillSwitch(f"daily loss {pnl:.2f} <= -{p.max_daily_loss:.2f}")]
        if p.cutoff is not None and now.astimezone(ZoneInfo(p.timezone)).time() >= p.cutoff:
            syms = self.ctx.symbols
            exposed = any(self.ctx.position(s) or self.ctx.working_orders(s) for s in syms)
            return [KillSwitch(f"cut-off {p.cutoff:%H:%M}")] if exposed else []
        return None


def example(tmp: Path, cls: str, params: dict[str, Any]) -> Path:
    """config/opening_range_breakout.yaml on the sample data, with ``params`` changed."""
    cfg = yaml.safe_load((ROOT / "config" / "opening_range_breakout.yaml").read_text())
    cfg["gateway"].update(data=str(ROOT / "data" / "sample"),
                          instruments=str(ROOT / "config" / "instruments.yaml"))  # fmt: skip
    cfg["journal"]["path"] = str(tmp / "j.sqlite")
    strategy = cfg["strategies"][0]
    strategy["class"] = cls
    strategy["params"].update(params)
    path = tmp / "orb.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def orders(tmp: Path, cls: str, params: dict[str, Any]) -> tuple[list[tuple[Any, ...]], Path]:
    tmp.mkdir()
    p = plan(load_config(example(tmp, cls, params)), *DAYS, out=tmp / "out")
    assert run_backtest(p, progress=False).code == 0
    journal = next(tmp.rglob("*.sqlite"))
    db = sqlite3.connect(journal)
    try:
        rows = list(db.execute("SELECT created, symbol, action, order_type, quantity, tag, "
                               "status FROM orders ORDER BY created, order_ref"))  # fmt: skip
    finally:
        db.close()
    return rows, journal


@pytest.mark.parametrize(("params", "hold"), [
    ({"max_daily_profit": 100, "max_daily_loss": 60}, "daily_loss_limit"),  # P&L kills daily
    ({"cutoff": "10:30"}, "halt_at 10:30"),  # the cut-off ends most days
])  # fmt: skip
def test_the_risk_stages_daily_kill_sends_the_orders_the_strategys_did(
    tmp_path: Path, params: dict[str, Any], hold: str
) -> None:
    before, _ = orders(tmp_path / "own", "orb_own_kill", params)
    after, journal = orders(tmp_path / "risk", "opening_range_breakout", params)
    assert after == before
    assert sum(tag.startswith("flatten") for *_, tag, _ in after) >= 3  # the kills flattened
    db = sqlite3.connect(journal)
    try:
        holds = [r for (r,) in db.execute("SELECT reason FROM risk_events WHERE kind = 'hold'")]
    finally:
        db.close()
    assert any(hold in r for r in holds), holds


def test_keys_under_the_strategys_risk_win_over_its_params(tmp_path: Path) -> None:
    cfg = load_config(example(tmp_path, "opening_range_breakout", {"max_daily_loss": 300}))
    risk = cfg.strategies[0].risk
    assert (risk.daily_loss_limit, risk.daily_profit_target, risk.halt_at) == (300, 1000, "15:45")
    assert risk.flatten_on_limit
    raw = yaml.safe_load((tmp_path / "orb.yaml").read_text())
    raw["strategies"][0]["risk"] = {"daily_loss_limit": 50, "halt_at": None}
    (tmp_path / "orb.yaml").write_text(yaml.safe_dump(raw))
    risk = load_config(tmp_path / "orb.yaml").strategies[0].risk
    assert (risk.daily_loss_limit, risk.daily_profit_target, risk.halt_at) == (50, 1000, None)
