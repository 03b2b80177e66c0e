"""Run a sweep's tasks on an engine with a progress bar, and the walk-forward on top of it.

Ctrl-C, or a backtest that fails, stops the engine's workers and returns what had finished
with the reason: the caller writes those rows and exits 1."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

from bot.research.optimize.engines import run_tasks
from bot.research.optimize.grid import Candidates
from bot.research.optimize.results import Row, ranked
from bot.research.optimize.tasks import Job, Outcome, Task, TaskError
from bot.research.optimize.walk_forward import Window, WindowResult
from bot.sim.market import Market


@dataclass(frozen=True, slots=True)
class Runner:
    job: Job
    market: Market
    engine: str
    workers: int
    scratch: Path  # the local workers' scratch folders go under it
    address: str | None = None
    progress: bool | None = None  # None: on a terminal only

    def run(self, tasks: Sequence[Task], desc: str) -> tuple[dict[int, Outcome], str]:
        """(outcomes by task index, why it stopped early or "")."""
        got: dict[int, Outcome] = {}
        bar = _bar(len(tasks), desc, self.progress)
        outcomes = run_tasks(self.engine, self.job, self.market, tasks, workers=self.workers,
                             scratch=self.scratch, address=self.address)  # fmt: skip
        try:
            for o in outcomes:
                got[o.index] = o
                if bar is not None:
                    bar.update()
        except KeyboardInterrupt:
            return got, "interrupted (Ctrl-C)"
        except TaskError as e:
            return got, str(e)
        finally:
            outcomes.close()  # stops the workers
            if bar is not None:
                bar.close()
        return got, ""


def _bar(total: int, desc: str, enabled: bool | None) -> Any:
    if not (sys.stderr.isatty() if enabled is None else enabled):
        return None
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="backtest", leave=False)


def sweep(
    runner: Runner, cands: Candidates, first: date, last: date, window: int | None = None,
    start: int = 0,
) -> tuple[list[Row], str]:  # fmt: skip
    """Every candidate over [first, last]: (the finished rows in grid order, why it stopped
    early or "")."""
    tasks = [Task(start + n, p, first, last) for n, p in enumerate(cands.params)]
    desc = "sweep" if window is None else f"window {window}"
    got, stopped = runner.run(tasks, desc)
    rows = [Row(cands.varied[n], cands.params[n], got[t.index], window)
            for n, t in enumerate(tasks) if t.index in got]  # fmt: skip
    return rows, stopped


def walk_forward_sweep(
    runner: Runner, cands: Candidates, wins: Sequence[Window], metric: str
) -> tuple[list[Row], list[WindowResult], str]:
    """Optimize on each in-sample span, test the winner on the next out-of-sample span:
    (all in-sample rows, the windows completed, why it stopped early or "")."""
    tasks: list[Task] = []
    owner: dict[int, tuple[int, int]] = {}  # task index -> (window position, candidate)
    for w_pos, win in enumerate(wins):
        for c, params in enumerate(cands.params):
            owner[len(tasks)] = (w_pos, c)
            tasks.append(Task(len(tasks), params, win.in_sample[0], win.in_sample[-1]))
    got, stopped = runner.run(tasks, "in-sample")
    rows = [Row(cands.varied[c], cands.params[c], got[i], wins[w].number)
            for i, (w, c) in owner.items() if i in got]  # fmt: skip
    if stopped:
        return rows, [], stopped
    bests = [ranked([r for r in rows if r.window == win.number], metric)[0] for win in wins]
    oos_tasks = [Task(n, b.params, win.out_of_sample[0], win.out_of_sample[-1])
                 for n, (b, win) in enumerate(zip(bests, wins, strict=True))]  # fmt: skip
    got, stopped = runner.run(oos_tasks, "out-of-sample")
    done = [WindowResult(win, b, Row(b.varied, b.params, got[n], win.number))
            for n, (b, win) in enumerate(zip(bests, wins, strict=True)) if n in got]  # fmt: skip
    return rows, done, stopped
