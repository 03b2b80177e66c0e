"""The backtrader baseline: ibbot's ``sma_crossover`` (long_flat) rules re-written for backtrader.

Used by the cross-check test (tests/backtest/test_backtrader_crosscheck.py) and, as a whole
process, by bench/backtest_bench.py. The rules are those of strategies/sma_crossover.py:

* fast and slow SMAs of the close, over every bar the strategy sees, warm-up bars included;
* on the bar where fast > slow and, one bar before, fast <= slow: target long ``quantity``;
  on the bar where fast < slow and, one bar before, fast >= slow: target flat; nothing else;
* no signal until both SMAs are defined on this bar and on the one before (``defined``);
* no order on a warm-up bar (ibbot's feed hands those to indicators only), and none when the
  target is the position already;
* a market order, filled by backtrader at the next bar's open (its default), no commission.

The bars are ibbot's: the data file of each symbol (bot.sim.datafile), regular-hours bars only
(``use_rth: true``), from the first of the ``warmup_days`` trading days before ``first`` (IB's
"N D" warm-up: the last N trading days with data before the backtest's start) to ``last``.

Run as a script it prints the round-trip count and writes them as CSV (``--out``); the bench
times that whole process, imports and data loading included.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import backtrader as bt
import pandas as pd

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script: bot/ from this checkout
    sys.path.insert(0, str(REPO))

from bot.sim.datafile import find_file, read_bars  # noqa: E402
from bot.sim.instruments import Instrument, Instruments  # noqa: E402


@dataclass(frozen=True, slots=True)
class RoundTrip:
    """One long round trip; times are the start of the bar whose open filled the order."""

    symbol: str
    quantity: float
    entry_time: datetime
    entry_price: float
    exit_time: datetime
    exit_price: float


@dataclass(frozen=True, slots=True)
class Window:
    """What the strategy sees of one symbol: its bars and when trading starts."""

    symbol: str
    bars: pd.DataFrame  # index: bar start (UTC, naive for backtrader); open high low close volume
    live_from: datetime  # the first traded bar's start (UTC, aware): --from's regular open


def load_window(
    data_dir: Path, instruments: Instruments, symbol: str, first: date, last: date, warmup_days: int
) -> Window:
    """The regular-hours bars of ``symbol`` from its warm-up to ``last`` (module doc)."""
    inst = instruments.by_symbol(symbol)
    path = find_file(data_dir, inst.local_symbol)
    if path is None:
        raise FileNotFoundError(f"{data_dir}: no data file for {symbol}")
    src = read_bars(path, inst)
    times = pd.to_datetime(src.time, unit="s", utc=True)
    frame = pd.DataFrame(
        {"open": src.open, "high": src.high, "low": src.low, "close": src.close,
         "volume": src.volume},
        index=times,
    )  # fmt: skip
    day = _rth_days(inst, frame.index)
    frame, day = frame[day.notna()], day[day.notna()]
    before = sorted({d for d in day if d < first})
    # as the simulated market's "N D": the last N of the days with data, or all there are
    start_day = before[max(0, len(before) - warmup_days)] if warmup_days and before else first
    bars = frame[(day >= start_day) & (day <= last)]
    bars.index = bars.index.tz_convert(None)
    session = inst.liquid_session(first)
    if session is None:
        raise ValueError(f"{symbol}: {first} is not a trading day")
    return Window(symbol, bars, session[0])


def _rth_days(inst: Instrument, index: pd.DatetimeIndex) -> pd.Series:
    """Each bar's trading day if the bar starts in that day's regular session, else None."""
    out = pd.Series(None, index=index, dtype="object")
    candidates = sorted({d + timedelta(days=k) for d in index.date for k in (0, 1)})
    for d in candidates:
        session = inst.liquid_session(d)
        if session is not None:
            i0, i1 = index.searchsorted(session[0]), index.searchsorted(session[1])
            out.iloc[i0:i1] = d
    return out


class SmaCrossLongFlat(bt.Strategy):
    """sma_crossover, mode long_flat, fixed sizing (module doc)."""

    params = (("fast", 10), ("slow", 30), ("quantity", 100), ("live_from", None))

    def __init__(self) -> None:
        p = self.params
        sma = bt.indicators.SMA
        self.sma = {d: (sma(d.close, period=p.fast), sma(d.close, period=p.slow))
                    for d in self.datas}  # fmt: skip
        self.seen = dict.fromkeys(self.datas, 0)
        self.fills: list[tuple[str, datetime, float, float]] = []  # symbol, bar, price, signed

    def prenext(self) -> None:
        self.next()  # symbols whose SMAs are not defined yet are skipped one by one below

    def next(self) -> None:
        p = self.params
        for d in self.datas:
            if len(d) == self.seen[d]:
                continue  # no new bar of this symbol at this time
            self.seen[d] = len(d)
            target = self._target(d)
            if target is None or _bar_time(d.datetime[0]) < p.live_from:
                continue  # no cross, or a warm-up bar: indicators only
            if target != self.getposition(d).size:
                self.order_target_size(data=d, target=target)

    def _target(self, d: bt.LineSeries) -> float | None:
        fast, slow = self.sma[d]
        if len(d) < 2 or len(slow) < 2:
            return None
        f, s, f1, s1 = fast[0], slow[0], fast[-1], slow[-1]
        if any(math.isnan(x) for x in (f, s, f1, s1)):
            return None
        if f > s and f1 <= s1:
            return self.params.quantity
        if f < s and f1 >= s1:
            return 0
        return None

    def notify_order(self, order: bt.Order) -> None:
        if order.status == order.Completed:
            ex = order.executed
            self.fills.append((order.data._name, _bar_time(ex.dt), ex.price, ex.size))


def _bar_time(num: float) -> datetime:
    # backtrader keeps times as float day numbers: round away its microsecond noise.
    t = bt.num2date(num).replace(tzinfo=UTC)
    return (t + timedelta(milliseconds=500)).replace(microsecond=0)


def run(
    windows: Sequence[Window], *, fast: int = 10, slow: int = 30, quantity: float = 100
) -> tuple[list[RoundTrip], int]:
    """Backtest the windows together in one Cerebro; (round trips, bars fed)."""
    cerebro = bt.Cerebro(stdstats=False)  # no observers: the fastest fair setting
    for w in windows:
        cerebro.adddata(bt.feeds.PandasData(dataname=w.bars), name=w.symbol)
    live_from = min(w.live_from for w in windows)
    cerebro.addstrategy(SmaCrossLongFlat, fast=fast, slow=slow, quantity=quantity,
                        live_from=live_from)  # fmt: skip
    cerebro.broker.setcash(1e12)  # never refused for cash: ibbot's config has enough too
    cerebro.broker.setcommission(commission=0.0)
    (strategy,) = cerebro.run()
    return pair(strategy.fills), sum(len(w.bars) for w in windows)


def pair(fills: Iterable[tuple[str, datetime, float, float]]) -> list[RoundTrip]:
    """Long/flat fills -> round trips (each exit closes the whole position), by exit time."""
    open_: dict[str, tuple[datetime, float, float]] = {}
    trips: list[RoundTrip] = []
    for symbol, t, price, size in fills:
        if size > 0:
            open_[symbol] = (t, price, size)
        elif symbol in open_:
            t0, p0, q = open_.pop(symbol)
            trips.append(RoundTrip(symbol, q, t0, p0, t, price))
    trips.sort(key=lambda r: (r.exit_time, r.entry_time, r.symbol))
    return trips


def write_csv(path: Path, trips: Iterable[RoundTrip]) -> None:
    with path.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["symbol", "quantity", "entry_time", "entry_price", "exit_time", "exit_price"])
        for r in trips:
            w.writerow([r.symbol, f"{r.quantity:g}", r.entry_time.isoformat(), r.entry_price,
                        r.exit_time.isoformat(), r.exit_price])  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", type=Path, required=True)
    ap.add_argument("--instruments", type=Path, default=REPO / "config" / "instruments.yaml")
    ap.add_argument("--symbols", required=True, help="comma separated")
    ap.add_argument("--from", dest="first", type=date.fromisoformat, required=True)
    ap.add_argument("--to", dest="last", type=date.fromisoformat, required=True)
    ap.add_argument("--warmup-days", type=int, default=1)
    ap.add_argument("--fast", type=int, default=10)
    ap.add_argument("--slow", type=int, default=30)
    ap.add_argument("--quantity", type=float, default=100)
    ap.add_argument("--out", type=Path, help="write the round trips here (CSV)")
    a = ap.parse_args(argv)
    instruments = Instruments.load(a.instruments)
    windows = [
        load_window(a.data, instruments, s, a.first, a.last, a.warmup_days)
        for s in a.symbols.split(",")
    ]
    trips, bars = run(windows, fast=a.fast, slow=a.slow, quantity=a.quantity)
    if a.out:
        write_csv(a.out, trips)
    print(f"backtrader: {len(trips)} round trips, {bars} bars")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
