"""The daily equity curve of a backtest, its KPIs, and the files and table that report them.

Equity of a strategy at a day's close = starting cash + the cash flow of its fills so far
(sells less buys, less commissions) + its open positions at that day's regular-session close:
the same as starting cash + realized P&L - commissions + open P&L. Each strategy is measured
against the whole starting cash (so the strategies' P&Ls add up to the total's). A fill counts
on the first trading day whose regular session it is not after (after-hours fills count the
next day); a day on which a symbol has no bar keeps its previous close.
"""

from __future__ import annotations

import csv
import json
import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import Any

from bot.backtest import kpis
from bot.backtest.ledger import Book, Trade, pair_trades
from bot.journal.queries import Fill
from bot.sim.instruments import Instrument
from bot.sim.market import Market

TOTAL = "total"


@dataclass(slots=True)
class Curve:
    """Equity per strategy (and TOTAL): index 0 at the start, then each day's close."""

    labels: list[str]  # ISO time of each point
    days: list[date]
    equity: dict[str, list[float]]
    exposed: dict[str, int]  # days with a position at some time during the day
    commissions: dict[str, float]
    book: Book = field(default_factory=Book)
    traded: dict[tuple[str, str], float] = field(default_factory=dict)  # (strategy, symbol)


def daily_closes(
    market: Market, instruments: Mapping[str, Instrument], days: Sequence[date], end: datetime
) -> dict[str, dict[date, float]]:
    """Regular-session close of each symbol on each of ``days`` (the market's daily bars)."""
    out: dict[str, dict[date, float]] = {}
    span = f"{(days[-1] - days[0]).days + 2} D"
    for name, inst in instruments.items():
        what = "MIDPOINT" if inst.sec_type == "CASH" else "TRADES"
        bars = market.history.historical_bars(inst.con_id, end, span, "1 day", what, True, end)
        out[name] = {b.date: float(b.close) for b in bars if isinstance(b.date, date)}
    return out


def build_curve(
    fills: Sequence[Fill],
    days: Sequence[date],
    closes: Mapping[str, Mapping[date, float]],
    cutoffs: Mapping[str, Mapping[date, datetime]],
    cash: float,
    strategies: Sequence[str],
    start: datetime,
) -> Curve:
    """Daily equity from fills and closes (module doc); ``cutoffs[symbol][day]`` is that
    day's regular close, UTC."""
    fills = sorted(fills, key=lambda f: f.time)
    ids = list(dict.fromkeys([*strategies, *(f.strategy_id for f in fills)]))
    flow = dict.fromkeys(ids, 0.0)  # cash flow of fills, commissions included
    fees = dict.fromkeys(ids, 0.0)
    pos: dict[tuple[str, str], float] = {}
    traded: dict[tuple[str, str], float] = {}
    last: dict[str, float] = {}
    eq: dict[str, list[float]] = {k: [cash] for k in [*ids, TOTAL]}
    exposed = dict.fromkeys([*ids, TOTAL], 0)
    labels = [start.isoformat()]
    i = 0
    for n, day in enumerate(days):
        held = {sid for (sid, _), q in pos.items() if q}
        final = n == len(days) - 1
        while i < len(fills) and (final or fills[i].time <= _cutoff(cutoffs, fills[i], day)):
            f = fills[i]
            flow[f.strategy_id] -= f.signed * f.price + f.commission
            fees[f.strategy_id] += f.commission
            key = (f.strategy_id, f.symbol)
            pos[key] = pos.get(key, 0.0) + f.signed
            traded[key] = traded.get(key, 0.0) + f.quantity * f.price
            if abs(pos[key]) < 1e-9:
                pos[key] = 0.0
            last[f.symbol] = f.price
            held.add(f.strategy_id)
            i += 1
        for sym, by_day in closes.items():
            if day in by_day:
                last[sym] = by_day[day]
        total = cash
        for sid in ids:
            value = flow[sid] + sum(q * last[sym] for (s, sym), q in pos.items() if s == sid and q)
            eq[sid].append(cash + value)
            total += value
            exposed[sid] += sid in held
        eq[TOTAL].append(total)
        exposed[TOTAL] += bool(held)
        closes_today = [c[day] for c in cutoffs.values() if day in c]
        labels.append((max(closes_today) if closes_today else start).isoformat())
    fees[TOTAL] = sum(fees.values())
    return Curve(labels, list(days), eq, exposed, fees, pair_trades(fills), traded)


def _cutoff(cutoffs: Mapping[str, Mapping[date, datetime]], f: Fill, day: date) -> datetime:
    by_day = cutoffs.get(f.symbol, {})
    return by_day.get(day) or max(by_day.values(), default=f.time)


def compute_kpis(
    curve: Curve, settings: kpis.Settings = kpis.Settings()  # noqa: B008 (frozen)
) -> dict[str, dict[str, object]]:
    """Per strategy, then TOTAL; each with its figures per symbol under ``by_symbol``."""
    out: dict[str, dict[str, object]] = {}
    for sid, equity in curve.equity.items():
        trades = [t for t in curve.book.trades if sid in (TOTAL, t.strategy_id)]
        traded = {k: v for k, v in curve.traded.items() if sid in (TOTAL, k[0])}
        figures = kpis.summarize(
            equity,
            curve.labels,
            [t.net_pnl for t in trades],
            days_exposed=curve.exposed[sid],
            commissions=curve.commissions.get(sid, 0.0),
            trade_returns=[_trade_return(t) for t in trades],
            traded_value=sum(traded.values()),
            settings=settings,
        )
        symbols = sorted({t.symbol for t in trades} | {sym for _, sym in traded})
        figures["by_symbol"] = {
            sym: kpis.trade_figures(
                [t.net_pnl for t in trades if t.symbol == sym],
                [_trade_return(t) for t in trades if t.symbol == sym],
                sum(v for (_, s), v in traded.items() if s == sym),
                equity,
            )
            for sym in symbols
        }
        out[sid] = figures
    return out


def _trade_return(t: Trade) -> float:
    entry = t.entry_price * t.quantity
    return t.net_pnl / entry if entry else 0.0


def open_positions(
    curve: Curve, closes: Mapping[str, Mapping[date, float]]
) -> list[dict[str, object]]:
    rows = []
    for (sid, sym), lots in sorted(curve.book.open_lots.items()):
        qty = sum(lot.quantity for lot in lots)
        if not qty:
            continue
        cost = sum(lot.quantity * lot.price for lot in lots)
        by_day = closes.get(sym, {})
        mark = next((by_day[d] for d in reversed(curve.days) if d in by_day), None)
        rows.append(
            {"strategy": sid, "symbol": sym, "quantity": qty, "avg_price": cost / qty,
             "close": mark, "open_pnl": None if mark is None else qty * mark - cost}
        )  # fmt: skip
    return rows


# ---- files -------------------------------------------------------------------------------


def write_equity_csv(path: Path, curve: Curve) -> None:
    cols = list(curve.equity)
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(["time", *cols])
        for n, label in enumerate(curve.labels):
            w.writerow([label, *(f"{curve.equity[c][n]:.2f}" for c in cols)])


TRADE_COLUMNS = [
    "strategy", "symbol", "direction", "quantity", "entry_time", "entry_price", "exit_time",
    "exit_price", "gross_pnl", "commission", "net_pnl",
]  # fmt: skip


def write_trades_csv(path: Path, trades: Sequence[Trade]) -> None:
    with path.open("w", newline="") as fh:
        w = csv.writer(fh)
        w.writerow(TRADE_COLUMNS)
        for t in trades:
            w.writerow(
                [t.strategy_id, t.symbol, t.direction, f"{t.quantity:g}",
                 t.entry_time.isoformat(), f"{t.entry_price:.6g}", t.exit_time.isoformat(),
                 f"{t.exit_price:.6g}", f"{t.gross_pnl:.2f}", f"{t.commission:.2f}",
                 f"{t.net_pnl:.2f}"]
            )  # fmt: skip


def write_json(path: Path, doc: Mapping[str, object]) -> None:
    path.write_text(json.dumps(_finite(doc), indent=2) + "\n")


def _finite(v: object) -> object:
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, Mapping):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_finite(x) for x in v]
    return v


# ---- the table ---------------------------------------------------------------------------


def _pct(v: Any) -> str:
    return "n/a" if v is None else f"{float(v) * 100:.2f}%"


def _num(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):.2f}"


def _money(v: Any) -> str:
    return "n/a" if v is None else f"{float(v):,.2f}"


def _count(v: Any) -> str:
    return "n/a" if v is None else f"{int(v)}"


def _day(v: Any) -> str:
    return "-" if v is None else str(v)[:10]


ROWS: list[tuple[str, str, Callable[[Any], str]]] = [
    ("end equity", "end_equity", _money),
    ("P&L", "pnl", _money),
    ("total return", "total_return", _pct),
    ("CAGR", "cagr", _pct),
    ("volatility (ann.)", "volatility", _pct),
    ("Sharpe", "sharpe", _num),
    ("Sortino", "sortino", _num),
    ("max drawdown", "max_drawdown", _pct),
    ("  peak", "max_drawdown_peak", _day),
    ("  trough", "max_drawdown_trough", _day),
    ("  duration (periods)", "max_drawdown_duration", _count),
    ("Calmar", "calmar", _num),
    ("trades", "trades", str),
    ("win rate", "win_rate", _pct),
    ("max consecutive losses", "max_consecutive_losses", _count),
    ("mean return per trade", "mean_trade_return", _pct),
    ("turnover", "turnover", _num),
    ("profit factor", "profit_factor", _num),
    ("avg win", "avg_win", _money),
    ("avg loss", "avg_loss", _money),
    ("exposure", "exposure", _pct),
    ("commissions", "commissions", _money),
]


def render_table(figures: Mapping[str, Mapping[str, object]]) -> str:
    """KPI rows, one column per strategy and TOTAL last."""
    cols = [c for c in figures if c != TOTAL] + [TOTAL]
    cells = [[fmt(figures[c].get(key)) for c in cols] for _, key, fmt in ROWS]
    width = [max(len(c), *(len(r[n]) for r in cells)) for n, c in enumerate(cols)]
    label_w = max(len(name) for name, _, _ in ROWS)
    lines = [" " * label_w + "".join(f"  {c:>{w}}" for c, w in zip(cols, width, strict=True))]
    for (name, _, _), row in zip(ROWS, cells, strict=True):
        lines.append(
            f"{name:<{label_w}}" + "".join(f"  {v:>{w}}" for v, w in zip(row, width, strict=True))
        )
    return "\n".join(lines)
