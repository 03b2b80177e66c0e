"""A finished backtest's folder read back for its report: kpis.json, equity.csv, the journal's
fills and risk events, and each traded symbol's price bars from the config's market data.

The prices come from the data the run replayed (the config's ``gateway.data`` through
bot/sim/market.py, at the finest bar size a strategy of the run trades that symbol on), so the
price line under the trade marks is the very series the strategies saw.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from bot.backtest.runner import BacktestError, plan
from bot.config.errors import ConfigError
from bot.config.load import load_config
from bot.journal.queries import Fill, RiskEvent, open_reader
from bot.model.bar_sizes import BAR_SIZES
from bot.sim.datafile import DataFileError

MAX_POINTS = 5000  # price bars per symbol in the report; coarser bars beyond that
_COARSER = ("5 mins", "15 mins", "1 hour", "1 day")


class ReportError(Exception):
    """A run folder that cannot be reported on: exit code 2, with this message."""


@dataclass(frozen=True, slots=True)
class PriceBars:
    symbol: str
    bar_size: str
    time: list[datetime]  # when each close printed (the bar's end)
    close: list[float]


@dataclass(frozen=True, slots=True)
class RunFiles:
    out: Path
    doc: dict[str, Any]  # kpis.json
    labels: list[str]  # equity.csv's time column
    equity: dict[str, list[float]]  # per strategy and "total"
    fills: list[Fill]
    risk_events: list[RiskEvent]
    prices: list[PriceBars]

    @property
    def figures(self) -> dict[str, dict[str, Any]]:
        kpis: dict[str, dict[str, Any]] = self.doc.get("kpis", {})
        return kpis


def read_run(out: Path, config: Path | None = None) -> RunFiles:
    """Everything the report shows; ``config`` overrides the one kpis.json names."""
    if not out.is_dir():
        raise ReportError(f"{out}: no such run folder (the --out of an ibbot backtest)")
    doc = _read_json(out / "kpis.json")
    labels, equity = _read_equity(out / "equity.csv")
    journal = out / "journal.sqlite"
    if not journal.is_file():
        raise ReportError(f"{journal}: missing (the run's journal)")
    with open_reader(journal) as reader:
        fills, risk_events = reader.fills(), reader.risk_events()
    return RunFiles(out, doc, labels, equity, fills, risk_events, _prices(doc, config, fills))


def _read_json(path: Path) -> dict[str, Any]:
    try:
        doc = json.loads(path.read_text())
    except FileNotFoundError:
        raise ReportError(f"{path}: missing (is this the --out folder of a backtest?)") from None
    except json.JSONDecodeError as e:
        raise ReportError(f"{path}: line {e.lineno}: not JSON: {e.msg}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("kpis"), dict):
        raise ReportError(f"{path}: no 'kpis' object")
    return doc


def _read_equity(path: Path) -> tuple[list[str], dict[str, list[float]]]:
    try:
        with path.open(newline="") as fh:
            rows = list(csv.reader(fh))
    except FileNotFoundError:
        raise ReportError(f"{path}: missing (the run's equity curve)") from None
    if len(rows) < 2 or rows[0][:1] != ["time"]:
        raise ReportError(f"{path}: line 1: expected a 'time' column and at least one row")
    columns = rows[0][1:]
    equity: dict[str, list[float]] = {c: [] for c in columns}
    for n, row in enumerate(rows[1:], start=2):
        for c, cell in zip(columns, row[1:], strict=False):
            try:
                equity[c].append(float(cell))
            except ValueError:
                where = f"{path}: line {n}, column {c!r}"
                raise ReportError(f"{where}: not a number: {cell!r}") from None
    return [r[0] for r in rows[1:]], equity


def _prices(doc: dict[str, Any], config: Path | None, fills: list[Fill]) -> list[PriceBars]:
    path = config or Path(str(doc.get("config", "")))
    if not path.is_file():
        raise ReportError(
            f"{path}: the run's config is not found (kpis.json 'config'); pass --config CONFIG"
        )
    try:
        cfg = load_config(path)
        first, last = date.fromisoformat(doc["from"]), date.fromisoformat(doc["to"])
        p = plan(cfg, first, last, out=Path(doc.get("journal", "x")).parent)
    except (ConfigError, BacktestError, DataFileError, KeyError, ValueError) as e:
        raise ReportError(f"{path}: cannot load the run's market data: {e}") from e
    sizes: dict[str, list[tuple[int, str, bool]]] = {}
    for s in cfg.strategies:
        if s.enabled:
            for sym in s.symbols:
                spec = (BAR_SIZES[s.bars.size], s.bars.size, s.bars.use_rth)
                sizes.setdefault(sym, []).append(spec)
    traded = sorted(set(p.instruments) & ({f.symbol for f in fills} | set(sizes)))
    out = []
    for sym in traded:
        _, size, use_rth = min(sizes.get(sym, [(BAR_SIZES["15 mins"], "15 mins", True)]))
        inst = p.instruments[sym]
        what = "MIDPOINT" if inst.sec_type == "CASH" else "TRADES"
        for bar_size in (size, *(c for c in _COARSER if BAR_SIZES[c] > BAR_SIZES[size])):
            bars = p.market.history.historical_bars(
                inst.con_id, p.end, f"{len(p.days)} D", bar_size, what, use_rth, p.end
            )
            if len(bars) <= MAX_POINTS:
                break
        step = timedelta(seconds=BAR_SIZES[bar_size])
        times = [_close_time(b.date, step, inst.session_close) for b in bars]
        out.append(PriceBars(sym, bar_size, times, [float(b.close) for b in bars]))
    return out


def _close_time(d: date | datetime, step: timedelta, close: Any) -> datetime:
    """When a bar's close printed: its start plus its size, a daily bar at its session's
    close (so fills line up with the price they traded at)."""
    if isinstance(d, datetime):
        return d + step
    t: datetime | None = close(d)
    return t if t is not None else datetime.combine(d, datetime.min.time())
