"""The in-process backtest: no look-ahead by construction, daily data on daily bars, a warm-up
may be empty, a bar size finer than the data is refused, Ctrl-C stops a real process."""

from __future__ import annotations

import csv
import math
import os
import signal
import subprocess
import sys
from collections.abc import Mapping
from datetime import date, timedelta
from pathlib import Path

import numpy as np
import pytest
from support.waiting import wait_until_sync

from bot.backtest.runner import BacktestError, plan, run_backtest
from bot.cli import main
from bot.config.load import load_config
from bot.model.events import Bar, FillEvent, OrderIntent, TargetPosition
from bot.strategy.api import Strategy
from bot.strategy.indicators import SMA, IndicatorSpec
from bot.strategy.registry import register

ROOT = Path(__file__).resolve().parents[2]
INSTRUMENTS = ROOT / "config" / "instruments.yaml"
SEEN: list[tuple[Bar, object, float]] = []  # (bar, ctx.now() then, SMA(3) then)
FILLS: list[FillEvent] = []


@register("lookahead_probe")
class LookaheadProbe(Strategy[None]):
    """Records what it is shown, tries to read ahead, and trades every 7th bar."""

    def indicators(self) -> Mapping[str, IndicatorSpec]:
        return {"sma": SMA(3)}

    def on_bar(self, bar: Bar) -> list[OrderIntent]:
        ctx = self.ctx
        SEEN.append((bar, ctx.now(), ctx.indicator(bar.symbol, "sma")))
        with pytest.raises((ValueError, IndexError)):
            ctx.indicator(bar.symbol, "sma", ago=-1)  # the next bar's value: there is none
        if len(SEEN) % 7 == 0:
            return [TargetPosition(bar.symbol, 0 if ctx.position(bar.symbol) else 10)]
        return []

    def on_fill(self, fill: FillEvent) -> list[OrderIntent]:
        FILLS.append(fill)
        return []


def _config(tmp: Path, body: str, data: Path = ROOT / "data" / "sample") -> Path:
    path = tmp / "c.yaml"
    path.write_text(
        "ib: {client_id: 61}\n"
        f"gateway: {{data: {data}, instruments: {INSTRUMENTS}, cash: 1000000, fill_at: last}}\n"
        "universe:\n"
        "  defaults: {sec_type: STK, exchange: SMART, currency: USD, primary_exchange: NASDAQ}\n"
        "  symbols: [AAPL, MSFT]\n"
        f"journal: {{path: {tmp / 'j.sqlite'}}}\n" + body
    )
    return path


def test_a_strategy_sees_only_closed_bars_and_its_orders_fill_after_them(tmp_path: Path) -> None:
    SEEN.clear()
    FILLS.clear()
    cfg = load_config(_config(tmp_path, (
        "strategies:\n"
        "  - {id: probe, class: lookahead_probe, symbols: [AAPL, MSFT],\n"
        "     bars: {size: 5 mins, warmup: 1 D}, sizing: {fixed: 10}}\n"
    )))  # fmt: skip
    p = plan(cfg, date(2026, 10, 13), date(2026, 10, 13), out=tmp_path / "out")
    assert run_backtest(p, progress=False).code == 0
    assert len(SEEN) == 2 * 78 and FILLS  # 78 five-minute bars a day per symbol
    market = p.market
    for bar, now, sma in SEEN:
        assert now == bar.end, "a bar reached the strategy before (or after) it closed"
        inst = market.instruments.by_symbol(bar.symbol)
        # what the market had closed by then: the strategy's bar is its last one, no later data
        hist = market.history.historical_bars
        last = hist(inst.con_id, now, "1 D", "5 mins", "TRADES", True, now)[-1]
        assert (last.open, last.high, last.low, last.close) == (
            bar.open, bar.high, bar.low, bar.close
        )  # fmt: skip
        closes = [b.close for b in market.history.historical_bars(
            inst.con_id, now, "2 D", "5 mins", "TRADES", True, now)[-3:]]  # fmt: skip
        assert math.isclose(sma, sum(closes) / 3, rel_tol=1e-12)
    decided = {(b.symbol, b.end) for b, _, _ in SEEN}
    for fill in FILLS:  # every fill comes after the close of a bar it was decided on
        assert any(s == fill.symbol and end < fill.time for s, end in decided)
        assert fill.time.second >= 1 or fill.time.microsecond  # not at the decision instant


def _daily_file(path: Path, days: int, seed: int = 7) -> list[tuple[date, float, float]]:
    """A Yahoo-style daily CSV (the date alone); returns (date, open, close) per row."""
    rng = np.random.default_rng(seed)
    d, rows, price = date(2024, 1, 2), [], 150.0
    while len(rows) < days:
        if d.weekday() < 5:
            o = round(price * (1 + rng.normal(0, 0.004)), 2)
            c = round(o * (1 + rng.normal(0, 0.015)), 2)
            hi, lo = round(max(o, c) * 1.006, 2), round(min(o, c) * 0.994, 2)
            rows.append((d, o, hi, lo, c, int(rng.integers(5e6, 9e6))))
            price = c
        d += timedelta(days=1)
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["Date", "Open", "High", "Low", "Close", "Adj Close", "Volume"])
        for day, o, hi, lo, c, v in rows:
            w.writerow([day.isoformat(), o, hi, lo, c, c, v])
    return [(r[0], r[1], r[4]) for r in rows]


def test_daily_data_backtests_on_daily_bars_with_next_open_fills(tmp_path: Path) -> None:
    data = tmp_path / "daily"
    data.mkdir()
    rows = _daily_file(data / "AAPL.csv", 300)
    cfg = load_config(_config(tmp_path, (
        "strategies:\n"
        "  - {id: sma, class: sma_crossover, symbols: [AAPL], params: {fast: 5, slow: 20},\n"
        "     bars: {size: 1 day, warmup: none}, sizing: {fixed: 100}}\n"
    ), data=data))  # fmt: skip
    first, last = rows[0][0], rows[-1][0]
    p = plan(cfg, first, last, out=tmp_path / "out")
    result = run_backtest(p, progress=False)
    assert result.code == 0 and result.figures["total"]["trades"] > 3
    opens = {d: o for d, o, _ in rows}
    closes = np.array([c for _, _, c in rows])
    sma = {n: np.convolve(closes, np.ones(n) / n, "valid") for n in (5, 20)}
    expected, long = [], False  # long/flat: buy the day after a cross up, sell after a cross down
    for i in range(20, len(rows) - 1):  # both SMAs defined on bar i and on bar i - 1
        up_now = sma[5][i - 4] > sma[20][i - 19]
        up_before = sma[5][i - 5] > sma[20][i - 20]
        if up_now != up_before and up_now != long:
            expected.append((rows[i + 1][0], "BUY" if up_now else "SELL"))
            long = up_now
    with (tmp_path / "out" / "trades.csv").open() as f:
        trips = list(csv.DictReader(f))
    fills = [(t["entry_time"], float(t["entry_price"]), "BUY") for t in trips] + [
        (t["exit_time"], float(t["exit_price"]), "SELL") for t in trips if t["exit_time"]
    ]
    for when, price, _ in fills:  # the open of the day after the signal, whatever the DST
        assert price == opens[date.fromisoformat(when[:10])], (when, price)
    got = sorted((date.fromisoformat(w[:10]), side) for w, _, side in fills)
    assert got == expected


def test_a_bar_size_finer_than_the_data_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "daily"
    data.mkdir()
    _daily_file(data / "AAPL.csv", 40)
    path = _config(tmp_path, (
        "strategies:\n"
        "  - {id: sma, class: sma_crossover, symbols: [AAPL],\n"
        "     bars: {size: 1 hour, warmup: none}, sizing: {fixed: 100}}\n"
    ), data=data)  # fmt: skip
    with pytest.raises(BacktestError) as err:
        plan(load_config(path), date(2024, 1, 2), date(2024, 2, 1), out=tmp_path / "o")
    assert str(err.value) == (
        "strategy sma: AAPL: the strategy's bars (1 hour) are finer than its data (1 day bars): "
        "use a bar size of at least 1 day, or finer data"
    )
    code = main(["backtest", str(path), "--from", "2024-01-02", "--to", "2024-02-01",
                 "--out", str(tmp_path / "o")])  # fmt: skip
    assert code == 2 and "finer than its data (1 day bars)" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()  # nothing replayed, nothing written


def test_an_empty_warm_up_starts_from_the_first_bar_of_the_data(tmp_path: Path) -> None:
    SEEN.clear()
    cfg = load_config(_config(tmp_path, (
        "strategies:\n"
        "  - {id: probe, class: lookahead_probe, symbols: [AAPL],\n"
        "     bars: {size: 15 mins, warmup: none}, sizing: {fixed: 10}}\n"
    )))  # fmt: skip
    first = date(2026, 10, 1)  # the sample's first day
    p = plan(cfg, first, first, out=tmp_path / "out")
    assert run_backtest(p, progress=False).code == 0
    assert SEEN[0][0].time == p.start and len(SEEN) == 26  # 09:30 .. 15:45, nothing before
    assert math.isnan(SEEN[0][2]) and not math.isnan(SEEN[2][2])  # SMA(3) from the 3rd bar


def test_ctrl_c_stops_a_backtest_process_with_its_partial_figures(tmp_path: Path) -> None:
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "bot", "backtest", str(ROOT / "config" / "rsi_reversion.yaml"),
           "--from", "2026-10-08", "--to", "2026-10-30", "--out", str(out)]  # fmt: skip
    proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})  # fmt: skip
    assert proc.stdout is not None
    assert proc.stdout.readline().startswith("backtest ")  # planned
    # The journal's file: the replay is under way, its signal handlers installed.
    wait_until_sync(lambda: (out / "journal.sqlite").exists() or proc.poll() is not None, 60,
                    what="the replay under way")  # fmt: skip
    assert proc.poll() is None, "the replay ended before the signal"
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, err
    assert "INTERRUPTED (signal SIGINT)" in err
    assert (out / "kpis.json").exists() and (out / "trades.csv").exists()
