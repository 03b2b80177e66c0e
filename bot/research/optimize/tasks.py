"""One sweep task = one in-process backtest of the config with one parameter set over one date
range. A Worker holds what every task shares (the config, the market data loaded once); each
task's journal goes to a scratch folder the engine gives it, never to --out."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bot.backtest import kpis
from bot.backtest.report import TOTAL
from bot.backtest.runner import plan, run_backtest
from bot.config.bot_config import BotConfig
from bot.sim.market import Market


@dataclass(frozen=True, slots=True)
class Job:
    """What every task of a sweep shares, shipped once to each worker."""

    cfg: BotConfig
    strategy_id: str  # whose params vary
    kpi_settings: kpis.Settings


@dataclass(frozen=True, slots=True)
class Task:
    index: int  # its place in the sweep: results are ordered by it, whatever finishes first
    params: dict[str, Any]  # the strategy's full params
    first: date
    last: date


@dataclass(frozen=True, slots=True)
class Outcome:
    index: int
    total: dict[str, object]  # the KPIs of the total (bot.backtest.kpis), without by_symbol
    labels: tuple[str, ...]  # the total equity curve: its times ...
    equity: tuple[float, ...]  # ... and values (for the walk-forward's stitched curve)
    stop_reason: str


class TaskError(Exception):
    """A backtest of the sweep failed (a strategy raised, bad data): the sweep stops there."""


def with_params(cfg: BotConfig, strategy_id: str, params: dict[str, Any]) -> BotConfig:
    strategies = [
        s.model_copy(update={"params": params}) if s.id == strategy_id else s
        for s in cfg.strategies
    ]
    return cfg.model_copy(update={"strategies": strategies})


class Worker:
    """Runs tasks one after another on one market."""

    def __init__(self, job: Job, market: Market) -> None:
        self.job, self.market = job, market

    def run(self, task: Task, scratch: Path) -> Outcome:
        """The task's backtest, its journal and CSVs written in ``scratch`` (replacing the
        previous task's)."""
        job = self.job
        cfg = with_params(job.cfg, job.strategy_id, task.params)
        try:
            p = plan(cfg, task.first, task.last, out=scratch, market=self.market)
            r = run_backtest(p, progress=False, kpi_settings=job.kpi_settings,
                             handle_signals=False)  # fmt: skip
        except Exception as e:  # one line naming the task, not a worker's traceback
            raise TaskError(f"the backtest of {task.params} from {task.first} to {task.last} "
                            f"failed: {type(e).__name__}: {e}") from None  # fmt: skip
        if r.code != 0:
            raise TaskError(f"the backtest of {task.params} from {task.first} to {task.last} "
                            f"failed ({r.stop_reason})")  # fmt: skip
        total = {k: v for k, v in r.figures[TOTAL].items() if k != "by_symbol"}
        curve = r.curve
        return Outcome(task.index, total, tuple(curve.labels), tuple(curve.equity[TOTAL]),
                       r.stop_reason)  # fmt: skip
