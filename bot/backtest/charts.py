"""The report's plotly figures, one function each: equity, drawdown, and trades on a symbol's
price. Pure: a run's files in, figures out (bot/backtest/html_report.py lays them out)."""

from __future__ import annotations

from datetime import datetime

import plotly.graph_objects as go

from bot.backtest.report import TOTAL
from bot.backtest.run_files import PriceBars, RunFiles
from bot.journal.queries import Fill

_LAYOUT = {
    "template": "plotly_white",
    "height": 360,
    "margin": {"l": 60, "r": 20, "t": 50, "b": 40},
    "legend": {"orientation": "h", "y": -0.15},
    "hovermode": "x unified",
}
BUY, SELL = "#1a9850", "#d73027"


def _times(labels: list[str]) -> list[datetime]:
    return [datetime.fromisoformat(t) for t in labels]


def equity_figure(run: RunFiles) -> go.Figure:
    fig = go.Figure(layout={**_LAYOUT, "title": "Equity (at each trading day's close)"})
    x = _times(run.labels)
    for name, values in run.equity.items():
        width = 3 if name == TOTAL else 1.5
        fig.add_scatter(x=x, y=values, name=name, mode="lines", line={"width": width})
    fig.update_yaxes(title_text="USD", tickformat=",.0f")
    return fig


def drawdowns(values: list[float]) -> list[float]:
    """Each point's fall from the highest point so far, as a fraction (0 or negative)."""
    out, peak = [], float("-inf")
    for v in values:
        peak = max(peak, v)
        out.append(v / peak - 1.0 if peak > 0 else 0.0)
    return out


def drawdown_figure(run: RunFiles) -> go.Figure:
    fig = go.Figure(layout={**_LAYOUT, "title": "Drawdown from the running peak"})
    x = _times(run.labels)
    for name, values in run.equity.items():
        fill = "tozeroy" if name == TOTAL else None
        fig.add_scatter(x=x, y=drawdowns(values), name=name, mode="lines", fill=fill)
    fig.update_yaxes(title_text="drawdown", tickformat=".2%")
    return fig


def price_figure(bars: PriceBars, fills: list[Fill]) -> go.Figure:
    """The symbol's closes with every fill marked at its time and price."""
    fig = go.Figure(layout={**_LAYOUT, "title": f"{bars.symbol}: trades on the price "
                                                f"({bars.bar_size} closes)"})  # fmt: skip
    fig.add_scatter(x=bars.time, y=bars.close, name=f"{bars.symbol} close", mode="lines",
                    line={"color": "#4575b4", "width": 1.2})  # fmt: skip
    for side, color, symbol in (("BUY", BUY, "triangle-up"), ("SELL", SELL, "triangle-down")):
        mine = [f for f in fills if f.symbol == bars.symbol and f.side == side]
        fig.add_scatter(
            x=[f.time for f in mine],
            y=[f.price for f in mine],
            name=side.lower(),
            mode="markers",
            marker={"color": color, "symbol": symbol, "size": 9, "line": {"width": 0.5}},
            text=[f"{f.strategy_id}: {side} {f.quantity:g} @ {f.price:g}" for f in mine],
            hovertemplate="%{text}<extra></extra>",
        )
    fig.update_layout(hovermode="closest")
    fig.update_yaxes(title_text="price")
    return fig
