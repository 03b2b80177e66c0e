"""``--walk-forward IS/OOS`` (``12m/3m``, ``1y/1m``, ``10d/5d``): rolling windows of an
in-sample span to optimize on and the out-of-sample span after it to test the winner on, rolled
forward by the out-of-sample length; and the out-of-sample curves stitched into one.

Units: ``d`` trading days (of the data), ``w`` weeks, ``m`` months, ``y`` years (calendar).
Only whole windows are used: the last out-of-sample span must end within the range."""

from __future__ import annotations

import calendar
import csv
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path

from bot.research.optimize.results import Row, _cell

_SPAN = re.compile(r"(\d+)([dwmy])")


class WalkForwardError(ValueError):
    """A bad ``--walk-forward`` or one no window fits: exit code 2."""


@dataclass(frozen=True, slots=True)
class Span:
    count: int
    unit: str  # d, w, m or y

    def __str__(self) -> str:
        return f"{self.count}{self.unit}"


@dataclass(frozen=True, slots=True)
class Window:
    number: int  # from 1
    in_sample: tuple[date, ...]  # trading days
    out_of_sample: tuple[date, ...]


def parse_spec(text: str) -> tuple[Span, Span]:
    parts = text.strip().lower().split("/")
    spans = [_SPAN.fullmatch(p.strip()) for p in parts]
    if len(parts) != 2 or not all(spans):
        raise WalkForwardError(f"bad --walk-forward {text!r}: write IS/OOS, e.g. 12m/3m, "
                               "1y/1m or 10d/5d (d trading days, w weeks, m months, "
                               "y years)")  # fmt: skip
    out = tuple(Span(int(m[1]), m[2]) for m in spans if m)
    if any(s.count == 0 for s in out):
        raise WalkForwardError(f"bad --walk-forward {text!r}: spans must be at least 1")
    return out[0], out[1]


def windows(days: Sequence[date], is_span: Span, oos_span: Span) -> list[Window]:
    """The whole windows over ``days`` (sorted trading days); WalkForwardError if none fits."""
    out: list[Window] = []
    start = 0  # index of the window's first day
    while start < len(days):
        split = _advance(days, start, is_span)
        end = _advance(days, split, oos_span)
        if split is None or end is None:
            break
        out.append(Window(len(out) + 1, tuple(days[start:split]), tuple(days[split:end])))
        nxt = _advance(days, start, oos_span)
        if nxt is None or nxt >= len(days):
            break
        start = nxt
    if not out:
        raise WalkForwardError(
            f"--walk-forward {is_span}/{oos_span}: no whole window fits the {len(days)} "
            f"trading days from {days[0]} to {days[-1]}" if days else "no trading days"
        )
    return out


def _advance(days: Sequence[date], i: int | None, span: Span) -> int | None:
    """The index ``span`` after day ``i`` (len(days) when it ends exactly at the range's end;
    None when it runs past it)."""
    if i is None or i >= len(days):
        return None
    if span.unit == "d":
        j = i + span.count
        return j if j <= len(days) else None
    limit = _add(days[i], span)
    if limit > days[-1] + timedelta(days=1):
        return None
    return next((k for k in range(i, len(days)) if days[k] >= limit), len(days))


def _add(d: date, span: Span) -> date:
    if span.unit == "w":
        return d + timedelta(weeks=span.count)
    months = span.count * (12 if span.unit == "y" else 1)
    y, m = divmod(d.month - 1 + months, 12)
    year, month = d.year + y, m + 1
    return date(year, month, min(d.day, calendar.monthrange(year, month)[1]))


@dataclass(frozen=True, slots=True)
class WindowResult:
    window: Window
    best: Row  # the in-sample winner
    oos: Row  # that parameter set's out-of-sample backtest


def stitch(results: Sequence[WindowResult]) -> tuple[list[str], list[float]]:
    """The out-of-sample curves end to end: each one rescaled to start where the previous one
    ended (every backtest starts with the same cash, so returns compound)."""
    labels: list[str] = []
    equity: list[float] = []
    for r in results:
        o = r.oos.outcome
        if not o.equity:
            continue
        if not equity:
            labels.append(o.labels[0])
            equity.append(o.equity[0])
        scale = equity[-1] / o.equity[0] if o.equity[0] else 1.0
        labels += o.labels[1:]
        equity += [v * scale for v in o.equity[1:]]
    return labels, equity


OOS_KPIS = ("total_return", "sharpe", "max_drawdown", "trades", "win_rate", "pnl")


def write_csv(path: Path, results: Sequence[WindowResult], names: Sequence[str],
              metric: str) -> None:  # fmt: skip
    """One row per window: its spans, the in-sample winner and its metric there, the
    out-of-sample KPIs, and the stitched out-of-sample equity at the window's end."""
    oos_cols = list(dict.fromkeys([metric, *OOS_KPIS]))
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["window", "is_from", "is_to", "oos_from", "oos_to", *names,
                    f"is_{metric}", *(f"oos_{k}" for k in oos_cols),
                    "stitched_equity"])  # fmt: skip
        for n, r in enumerate(results, start=1):
            win, total = r.window, r.oos.outcome.total
            _, stitched = stitch(results[:n])
            w.writerow([win.number, win.in_sample[0], win.in_sample[-1], win.out_of_sample[0],
                        win.out_of_sample[-1], *(r.best.varied[k] for k in names),
                        _cell(r.best.value(metric)), *(_cell(total.get(k)) for k in oos_cols),
                        _cell(stitched[-1] if stitched else None)])  # fmt: skip


def write_equity_csv(path: Path, labels: Sequence[str], equity: Sequence[float]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(["time", "equity"])
        w.writerows([t, repr(v)] for t, v in zip(labels, equity, strict=True))
