"""A sweep's report.html: the top parameter sets, the metric over the grid (a heatmap for two
varied parameters, a line for one) and the walk-forward's windows with the stitched
out-of-sample equity. Self-contained like the backtest's report (plotly.js inlined once)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from html import escape

import plotly.graph_objects as go

from bot.backtest.charts import _LAYOUT, _times
from bot.backtest.html_report import _CSS, _table
from bot.research.optimize.grid import Value
from bot.research.optimize.results import TABLE_KPIS, Row, _fmt, ranked
from bot.research.optimize.walk_forward import WindowResult, stitch

TOP = 20


@dataclass(frozen=True, slots=True)
class Page:
    title: str
    meta: str  # one line under the title (range, strategy, counts)
    names: list[str]  # the varied parameters
    metric: str
    rows: list[Row]  # the full-range sweep's, or the in-sample ones of a walk-forward
    windows: list[WindowResult]


def render(page: Page) -> str:
    stitched, grid = _stitched_figure(page.windows), _grid_figure(page)
    first = [True]  # plotly.js goes inline with the first chart only

    def chart(fig: go.Figure) -> str:
        js, first[0] = first[0], False
        body = fig.to_html(full_html=False, include_plotlyjs=js, config={"responsive": True})
        return f'<div class="chart">{body}</div>'

    parts = [f"<h1>{escape(page.title)}</h1>", f'<p class="meta">{escape(page.meta)}</p>']
    if page.windows:
        parts += ["<h2>Walk-forward: each window's in-sample best, out of sample</h2>",
                  _windows_table(page)]  # fmt: skip
        parts += [chart(stitched)] if stitched is not None else []
    parts += [f"<h2>Top {min(TOP, len(page.rows))} by {escape(page.metric)}"
              + (" (in-sample, every window)" if page.windows else "") + "</h2>",
              _top_table(page)]  # fmt: skip
    if grid is not None:
        parts += [f"<h2>{escape(page.metric)} over the grid</h2>", chart(grid)]
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<link rel="icon" href="data:,">'
        f"<title>{escape(page.title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>\n"
    )


def _top_table(page: Page) -> str:
    kcols = [k for k in TABLE_KPIS if k != page.metric]
    wcol = ["window"] if page.windows else []
    head = ["#", *wcol, *page.names, page.metric, *kcols]
    body = []
    for rank, r in enumerate(ranked(page.rows, page.metric)[:TOP], start=1):
        cells = [str(rank), *([str(r.window)] if page.windows else [])]
        cells += [str(r.varied[n]) for n in page.names]
        cells += [str(_fmt(r.outcome.total.get(k))) for k in (page.metric, *kcols)]
        body.append(cells)
    return _table(head, body, "top")


def _windows_table(page: Page) -> str:
    m = page.metric
    head = ["window", "in sample", "out of sample", *page.names,
            f"in-sample {m}", f"OOS {m}", "OOS return", "OOS trades"]  # fmt: skip
    body = []
    for r in page.windows:
        w, t = r.window, r.oos.outcome.total
        body.append([str(w.number), f"{w.in_sample[0]} to {w.in_sample[-1]}",
                     f"{w.out_of_sample[0]} to {w.out_of_sample[-1]}",
                     *(str(r.best.varied[n]) for n in page.names),
                     str(_fmt(r.best.value(page.metric))), str(_fmt(t.get(page.metric))),
                     str(_fmt(t.get("total_return"))), str(_fmt(t.get("trades")))])  # fmt: skip
    return _table(head, body, "windows")


def _grid_figure(page: Page) -> go.Figure | None:
    """A heatmap of the metric for 2 varied parameters, a line for 1 (full-range sweeps)."""
    if page.windows or not page.rows or len(page.names) not in (1, 2):
        return None
    title = f"{page.metric} by {' and '.join(page.names)}"
    fig = go.Figure(layout={**_LAYOUT, "title": title, "hovermode": "closest"})
    if len(page.names) == 1:
        (name,) = page.names
        x = [r.varied[name] for r in page.rows]
        fig.add_scatter(x=x, y=[r.value(page.metric) for r in page.rows], mode="lines+markers")
        fig.update_xaxes(title_text=name)
        return fig
    ny, nx = page.names
    xs = _distinct(r.varied[nx] for r in page.rows)
    ys = _distinct(r.varied[ny] for r in page.rows)
    z: list[list[float | None]] = [[None] * len(xs) for _ in ys]
    for r in page.rows:  # cells the Params model refused stay empty
        z[ys.index(r.varied[ny])][xs.index(r.varied[nx])] = r.value(page.metric)
    fig.add_heatmap(x=[str(x) for x in xs], y=[str(y) for y in ys], z=z, colorscale="RdYlGn",
                    colorbar={"title": page.metric}, hoverongaps=False)  # fmt: skip
    fig.update_layout(height=max(360, 28 * len(ys) + 120))
    fig.update_xaxes(title_text=nx, type="category")
    fig.update_yaxes(title_text=ny, type="category")
    return fig


def _distinct(values: Iterable[Value]) -> list[Value]:
    return list(dict.fromkeys(values))


def _stitched_figure(windows: Sequence[WindowResult]) -> go.Figure | None:
    labels, equity = stitch(windows)
    if not equity:
        return None
    fig = go.Figure(layout={**_LAYOUT, "title": "Stitched out-of-sample equity"})
    fig.add_scatter(x=_times(labels), y=equity, name="out of sample", mode="lines",
                    line={"width": 2.5})  # fmt: skip
    for r in windows[1:]:  # where each window's out-of-sample span starts
        fig.add_vline(x=_times([r.oos.outcome.labels[0]])[0], line={"dash": "dot", "width": 1})
    fig.update_yaxes(title_text="USD", tickformat=",.0f")
    return fig
