"""``report.html``: one self-contained page for a finished backtest (plotly.js inlined, so it
opens offline and fetches nothing), with PNGs of its charts beside it.

The page: the run's header, KPIs per strategy and in total, figures per symbol, the equity and
drawdown curves, the monthly returns, each traded symbol's price with its fills marked, and the
risk manager's rejections. PNGs are drawn by kaleido, which drives an installed Chromium (Debian's
``chromium``: kaleido never downloads one here); without a Chromium the page is still written
and the PNGs are skipped with a warning saying so.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from html import escape
from pathlib import Path
from typing import Any

import plotly.graph_objects as go
import plotly.io as pio

from bot.backtest import charts, kpis
from bot.backtest.report import ROWS, TOTAL, _count, _money, _num, _pct
from bot.backtest.run_files import ReportError, RunFiles, read_run

REPORT = "report.html"
MAX_REJECTIONS = 500  # rows listed; the counts above them cover all
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
_CSS = """
body { font-family: system-ui, sans-serif; margin: 24px auto; max-width: 1200px; color: #222; }
h1 { font-size: 1.5em; } h2 { font-size: 1.15em; margin-top: 1.8em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; margin: 8px 0; font-size: 0.9em; }
th, td { padding: 3px 10px; border-bottom: 1px solid #eee; text-align: right; }
th:first-child, td:first-child { text-align: left; }
td.pos { background: #e6f4ea; } td.neg { background: #fce8e6; }
.meta { color: #555; } .chart { margin: 12px 0; }
"""


def figures(run: RunFiles) -> dict[str, go.Figure]:
    """Every chart of the report by its PNG's stem, in page order."""
    out = {"equity": charts.equity_figure(run), "drawdown": charts.drawdown_figure(run)}
    for bars in run.prices:
        out[f"price-{bars.symbol}"] = charts.price_figure(bars, run.fills)
    return out


def write_report(run: RunFiles) -> tuple[Path, list[Path], str | None]:
    """report.html and the PNGs into the run's folder: (page, PNGs, why no PNGs or None)."""
    figs = figures(run)
    page = run.out / REPORT
    page.write_text(render(run, figs), encoding="utf-8")
    pngs = [run.out / f"{stem}.png" for stem in figs]
    try:
        pio.write_images(list(figs.values()), pngs, width=1100, height=420, scale=1)
    except Exception as e:  # kaleido without a browser raises its own types: say why, go on
        for p in pngs:
            p.unlink(missing_ok=True)
        return page, [], f"{type(e).__name__}: {e}".splitlines()[0]
    return page, pngs, None


def report_command(out: Path, config: Path | None = None) -> int:
    """``ibbot report`` and ``ibbot backtest --report``: write, print where; the exit code."""
    try:
        run = read_run(out, config)
    except ReportError as e:
        print(f"ibbot report: {e}", file=sys.stderr)
        return 2
    page, pngs, why = write_report(run)
    print(f"wrote {page}" + (f" and {len(pngs)} PNG charts beside it" if pngs else ""))
    if why:
        print(f"ibbot report: no PNG charts ({why}); they need Chromium "
              "(apt-get install chromium)", file=sys.stderr)  # fmt: skip
    return 0


# ---- the page ----------------------------------------------------------------------------


def render(run: RunFiles, figs: dict[str, go.Figure]) -> str:
    parts = [_header(run), "<h2>KPIs</h2>", _kpi_table(run.figures),
             "<h2>Per symbol</h2>", _symbol_table(run.figures)]  # fmt: skip
    charts_html = [
        f'<div class="chart" id="chart-{escape(stem)}">'
        + fig.to_html(full_html=False, include_plotlyjs=n == 0, config={"responsive": True})
        + "</div>"
        for n, (stem, fig) in enumerate(figs.items())
    ]
    parts += ["<h2>Equity and drawdown</h2>", *charts_html[:2]]
    parts += ["<h2>Monthly returns (total)</h2>", _monthly_table(run)]
    parts += ["<h2>Trades on each symbol's price</h2>", *charts_html[2:]]
    parts += ["<h2>Risk rejections</h2>", _rejections(run)]
    title = f"Backtest {run.doc.get('config', '')} {run.doc.get('from')} to {run.doc.get('to')}"
    return (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        '<link rel="icon" href="data:,">'  # no favicon request: the page fetches nothing
        f"<title>{escape(title)}</title><style>{_CSS}</style></head><body>"
        + "\n".join(parts)
        + "</body></html>\n"
    )


def _header(run: RunFiles) -> str:
    d = run.doc
    total = run.figures.get(TOTAL, {})
    style = total.get("kpi_style", "standard")
    return (
        f"<h1>Backtest of {escape(str(d.get('config', '?')))}</h1>"
        f'<p class="meta">{escape(str(d.get("from")))} to {escape(str(d.get("to")))} '
        f"({d.get('trading_days', '?')} trading days), starting cash {_money(d.get('cash'))}; "
        f"KPIs: {escape(str(style))} style, risk-free rate {_pct(total.get('rf', 0.0))}; "
        f"{len(run.fills)} fills; stop: {escape(str(d.get('stop_reason', '')))}</p>"
    )


def _table(head: Sequence[str], rows: Iterable[Sequence[str]], cls: str = "") -> str:
    th = "".join(f"<th>{escape(h)}</th>" for h in head)
    body = "".join("<tr>" + "".join(_cell(c) for c in r) + "</tr>" for r in rows)
    return f'<table class="{cls}"><thead><tr>{th}</tr></thead><tbody>{body}</tbody></table>'


def _cell(text: str) -> str:
    return f"<td>{escape(text)}</td>"


def _kpi_table(figs: dict[str, dict[str, Any]]) -> str:
    cols = [c for c in figs if c != TOTAL] + [TOTAL]
    rows = [[name, *(fmt(figs[c].get(key)) for c in cols)] for name, key, fmt in ROWS]
    return _table(["", *cols], rows, "kpis")


_SYMBOL_COLUMNS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("trades", "trades", _count),
    ("net P&L", "net_pnl", _money),
    ("win rate", "win_rate", _pct),
    ("profit factor", "profit_factor", _num),
    ("mean return / trade", "mean_trade_return", _pct),
    ("max consecutive losses", "max_consecutive_losses", _count),
    ("traded value", "traded_value", _money),
    ("turnover", "turnover", _num),
]


def _symbol_table(figs: dict[str, dict[str, Any]]) -> str:
    rows = []
    for sid, f in figs.items():
        if sid == TOTAL and len(figs) == 2:  # one strategy: the total repeats it
            continue
        for sym, s in f.get("by_symbol", {}).items():
            rows.append([sid, sym, *(fmt(s.get(key)) for _, key, fmt in _SYMBOL_COLUMNS)])
    if not rows:
        return "<p>No trades.</p>"
    return _table(["strategy", "symbol", *(n for n, _, _ in _SYMBOL_COLUMNS)], rows, "symbols")


def _monthly_table(run: RunFiles) -> str:
    months = kpis.monthly_returns(run.labels, run.equity.get(TOTAL, []))
    if not months:
        return "<p>No full month.</p>"
    years = sorted({m[:4] for m in months})
    head = "".join(f"<th>{h}</th>" for h in ("year", *_MONTHS, "year"))
    body = []
    for y in years:
        cells = [f"<td>{y}</td>"]
        growth = 1.0
        for m in range(1, 13):
            r = months.get(f"{y}-{m:02d}")
            growth *= 1.0 + (r or 0.0)
            cells.append(_signed(r))
        cells.append(_signed(growth - 1.0))
        body.append("<tr>" + "".join(cells) + "</tr>")
    rows = "".join(body)
    return f'<table class="monthly"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _signed(r: float | None) -> str:
    if r is None:
        return "<td></td>"
    return f'<td class="{"pos" if r >= 0 else "neg"}">{r * 100:+.2f}%</td>'


def _rejections(run: RunFiles) -> str:
    events = run.risk_events
    if not events:
        return "<p>None: the risk manager approved every intent.</p>"
    counts = Counter((e.strategy_id, e.kind, e.symbol) for e in events)
    summary = _table(["strategy", "kind", "symbol", "count"],
                     [[s, k, sym, str(n)] for (s, k, sym), n in counts.most_common()])  # fmt: skip
    shown = events[:MAX_REJECTIONS]
    more = f"<p>The first {len(shown)} of {len(events)}.</p>" if len(events) > len(shown) else ""
    listing = _table(["time", "strategy", "kind", "symbol", "reason"],
                     [[e.time, e.strategy_id, e.kind, e.symbol, e.reason] for e in shown],
                     "rejections")  # fmt: skip
    return summary + more + listing
