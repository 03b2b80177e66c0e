"""A sweep's rows: ranking by the metric, results.csv, best.yaml and the terminal table.

Rows keep the task order (the grid's), so the files do not depend on which task finished
first; ranks break ties by that order too."""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from bot.backtest.report import ROWS, _day
from bot.research.optimize.grid import Value
from bot.research.optimize.tasks import Outcome
from bot.runtime.text_table import render

# The report's KPI rows that are numbers (not dates) may rank a sweep.
METRICS = [key for _, key, fmt in ROWS if fmt is not _day]
LOWER_IS_BETTER = frozenset({"volatility", "max_drawdown", "max_drawdown_duration",
                             "max_consecutive_losses", "commissions"})  # fmt: skip
TABLE_KPIS = ("total_return", "sharpe", "max_drawdown", "trades", "win_rate", "pnl")


class MetricError(ValueError):
    """An unknown ``--metric``: exit code 2."""


def check_metric(metric: str) -> None:
    if metric not in METRICS:
        raise MetricError(f"unknown --metric {metric!r}; one of: {', '.join(METRICS)}")


@dataclass(frozen=True, slots=True)
class Row:
    varied: dict[str, Value]  # the grid's values
    params: dict[str, Any]  # the strategy's full params
    outcome: Outcome
    window: int | None = None  # the walk-forward window (in-sample), else None

    def value(self, metric: str) -> float | None:
        v = self.outcome.total.get(metric)
        return float(v) if isinstance(v, int | float) and math.isfinite(v) else None


def ranked(rows: Sequence[Row], metric: str) -> list[Row]:
    """Best first; rows without a value (e.g. Sharpe of a flat curve) last; ties in order."""
    sign = 1.0 if metric in LOWER_IS_BETTER else -1.0

    def key(item: tuple[int, Row]) -> tuple[bool, float, int]:
        v = item[1].value(metric)
        return (v is None, sign * v if v is not None else 0.0, item[0])

    return [r for _, r in sorted(enumerate(rows), key=key)]


def kpi_columns(rows: Sequence[Row]) -> list[str]:
    """The total's scalar KPIs, in the order kpis.summarize gives them."""
    cols: list[str] = []
    for r in rows:
        cols += [k for k, v in r.outcome.total.items() if k not in cols and _scalar(v)]
    return cols


def _scalar(v: object) -> bool:
    return v is None or isinstance(v, int | float | str | bool)


def write_results_csv(path: Path, rows: Sequence[Row], names: Sequence[str], metric: str) -> None:
    """One row per parameter set, in task order: [window,] the parameters, the rank (within
    the window), the metric, then every other KPI of the total."""
    windows = any(r.window is not None for r in rows)
    order: dict[int, int] = {}  # id(row) -> its rank (within its walk-forward window)
    for win in dict.fromkeys(r.window for r in rows):
        group = [r for r in rows if r.window == win]
        order.update({id(r): n for n, r in enumerate(ranked(group, metric), start=1)})
    kcols = [k for k in kpi_columns(rows) if k != metric]
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow([*(["window"] if windows else []), *names, "rank", metric, *kcols])
        for r in rows:
            w.writerow([*([r.window] if windows else []), *(r.varied[n] for n in names),
                        order[id(r)], _cell(r.value(metric)),
                        *(_cell(r.outcome.total.get(k)) for k in kcols)])  # fmt: skip


def _cell(v: object) -> object:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return ""
    return repr(v) if isinstance(v, float) else v  # repr: the shortest exact text


def best_yaml(
    best: Row, params_model: type[BaseModel], *, strategy: str, metric: str, context: str
) -> str:
    """The best parameters as a YAML snippet for the strategy's ``params:``."""
    params = params_model.model_validate(best.params).model_dump(mode="json", by_alias=True)
    v = best.value(metric)
    head = (
        f"# ibbot optimize {context}\n"
        f"# best {metric}: {'n/a' if v is None else f'{v:.6g}'}; "
        f"strategy {strategy}: paste under its params:\n"
    )
    return head + yaml.safe_dump({"params": params}, sort_keys=False)


def top_table(rows: Sequence[Row], names: Sequence[str], metric: str, n: int = 10) -> str:
    kcols = [k for k in TABLE_KPIS if k != metric]
    head = ["#", *(["window"] if rows and rows[0].window is not None else []), *names,
            metric, *kcols]  # fmt: skip
    body = []
    for rank, r in enumerate(ranked(rows, metric)[:n], start=1):
        cells: list[object] = [rank, *([r.window] if r.window is not None else [])]
        cells += [r.varied[k] for k in names]
        cells += [_fmt(r.outcome.total.get(k)) for k in (metric, *kcols)]
        body.append(cells)
    return render(head, body)


def _fmt(v: object) -> object:
    if isinstance(v, float):
        return round(v, 4) if math.isfinite(v) else "n/a"
    return "n/a" if v is None else v
