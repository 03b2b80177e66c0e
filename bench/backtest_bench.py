"""Backtest benchmark: ``ibbot backtest`` against backtrader and a numpy floor, side by side.

Usage: ``python bench/backtest_bench.py [--quick] [--engine inprocess|gateway]
[--skip-backtrader] [--gateway-budget SECONDS] [--cases sma,big,macd]``. Prints one table; every
figure of it is measured in this run, on data made or read in this run. ``--cases`` runs only
those (default: all three; the numpy floor then covers the ones run).

How each figure is measured:

* **SMA 10/30, 1-minute bars, 25 sample stocks x 21 days** (data/sample, 2026-10-02 to
  2026-10-30 with 2026-10-01 as the one-day warm-up; about 205k traded bars). Both sides run as a
  whole process, timed from spawn to exit (interpreter start, imports, data loading, the run,
  the reports): ``python bench/backtrader_sma.py ...`` (the same rules in backtrader, the same
  bars, next-open fills, no commission) against ``python -m bot backtest CONFIG ...`` with
  sma_crossover long/flat 100 shares. Ratio = backtrader wall / ibbot wall (the goal: >= 20).
  Trade counts are the round trips of each (ibbot's trades.csv, backtrader's closed longs) and
  their difference in percent of backtrader's. In-loop bars/s is ibbot's own ``bars`` /
  ``loop_seconds`` from kpis.json, when the engine reports them. The whole-process floor is
  bench/sma_floor.py over the same symbols: interpreter, imports, the files read with the
  project's reader and the signals in numpy, nothing else; backtrader's wall over it is the
  largest ratio any engine reading these files could show.
* **1 symbol x 1,000,000 synthetic 1-minute bars** (``ibbot data synth`` into a temp dir with
  a one-instrument instruments file, one warm-up day): the same SMA config backtested over the
  first 200k bars and over all 1M. bars/s = traded bars / in-loop seconds when kpis.json has
  them, else / the whole process's wall time (which then includes loading the whole 1M-bar
  file in both runs). The two figures should be about equal (flat: per-bar cost does not grow
  with history). Peak RSS: ru_maxrss of exactly that ibbot process (os.wait4); target < 1 GB.
* **macd_stochastic, 25 synthetic stocks x 1 year of 15-minute bars** (config/macd_stochastic.yaml
  on ``ibbot data synth --bar-size 900`` data, its 5-day warm-up before the year): bars/s as
  above and the peak RSS of the ibbot process.
* **numpy floor**: the same signals computed vectorized over the same bars already in memory
  (loading excluded): SMA 10/30 crosses with numpy cumulative sums; MACD(12,26,9) > signal and
  the smoothed stochastic above 30 and rising with the project's batch indicators (pandas
  ewm/rolling: bot/indicators). Signals only: the trailing stop's exit path is sequential.
  bars/s = bars / compute seconds.

The gateway replay (``--engine gateway``, and the only engine while this checkout's CLI has no
``--engine``) replays 5-second bars through a socket: far too slow for the big cases. Its pace is
calibrated on a small slice first (symbol-seconds of market replayed per wall second); a case
whose estimate exceeds ``--gateway-budget`` is skipped with a line saying how long it would
take, never run into a hang.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script
    sys.path.insert(0, str(REPO))

from bench import backtrader_sma as btsma  # noqa: E402
from bench import ibbot_backtest as ib  # noqa: E402
from bench.sma_floor import sma_signals  # noqa: E402
from bot.research.data.synth import trading_days  # noqa: E402
from bot.sim.instruments import Instruments  # noqa: E402
from bot.strategy.indicators import MACD, Stochastic  # noqa: E402

STOCKS = ("AAPL", "MSFT", "NVDA", "AMZN", "INTC", "GOOGL", "META", "TSLA", "AVGO", "COST",
          "NFLX", "AMD", "PEP", "ADBE", "CSCO", "QCOM", "TXN", "AMAT", "INTU", "AMGN", "HON",
          "SBUX", "ISRG", "BKNG", "MU")  # fmt: skip
RTH_S = 6.5 * 3600  # seconds of a regular session: what the gateway replays per symbol and day
MINUTE_BARS_PER_DAY = 390
SAMPLE_FIRST, SAMPLE_LAST = date(2026, 10, 2), date(2026, 10, 30)


@dataclass(frozen=True, slots=True)
class Sizes:
    sma_symbols: int  # of STOCKS, sample data
    sma_last: date  # last traded day of the sample (from SAMPLE_FIRST)
    sma_days: int
    big_bars: tuple[int, int]  # the two lengths of the one-symbol run
    macd_symbols: int
    macd_days: int  # traded days of 15-minute bars (after the config's 5-day warm-up)


FULL = Sizes(25, SAMPLE_LAST, 21, (200_000, 1_000_000), 25, 252)
QUICK = Sizes(2, date(2026, 10, 5), 2, (780, 1_560), 2, 2)


@dataclass(frozen=True, slots=True)
class Row:
    case: str
    figure: str
    value: str


class Report:
    """The table, printed as it grows (so a long run shows progress) and once at the end."""

    def __init__(self) -> None:
        self.rows: list[Row] = []

    def add(self, case: str, figure: str, value: str) -> None:
        self.rows.append(Row(case, figure, value))
        print(f"  {case}: {figure}: {value}", flush=True)

    def render(self) -> str:
        w1 = max(len(r.case) for r in self.rows)
        w2 = max(len(r.figure) for r in self.rows)
        lines, last = [], ""
        for r in self.rows:
            case = r.case if r.case != last else ""
            lines.append(f"{case:<{w1}}  {r.figure:<{w2}}  {r.value}")
            last = r.case
        rule = "-" * max(len(s) for s in lines)
        return "\n".join([rule, *lines, rule])


class Gate:
    """Whether a run of the gateway replay fits the budget (module doc); the in-process engine
    always runs."""

    def __init__(self, engine: str, budget_s: float) -> None:
        self.engine = engine
        self.budget_s = budget_s
        self.pace: float | None = None  # symbol-seconds replayed per wall second

    def calibrate(self, tmp: Path) -> None:
        if self.engine != "gateway":
            return
        config = tmp / "calibrate.yaml"
        config.write_text(ib.sma_config(STOCKS[:2]))
        run = ib.backtest(config, SAMPLE_FIRST, SAMPLE_FIRST, tmp / "calibrate").check()
        self.pace = 2 * RTH_S / run.wall_seconds

    def skip_reason(self, symbols: int, days: int) -> str | None:
        if self.pace is None:
            return None
        estimate = symbols * days * RTH_S / self.pace
        if estimate <= self.budget_s:
            return None
        return (f"gateway engine: skipped, would take ~{estimate / 60:.0f} min "
                f"(over --gateway-budget {self.budget_s:.0f} s)")  # fmt: skip


def loop_rate(run: ib.Run) -> float | None:
    """ibbot's own in-loop bars/s from kpis.json, when the engine reports it."""
    k = run.kpis()
    bars, secs = k.get("bars"), k.get("loop_seconds")
    return bars / secs if isinstance(bars, int | float) and secs else None


def rate_text(run: ib.Run, bars: int) -> str:
    inloop = loop_rate(run)
    if inloop is not None:
        return f"{inloop:,.0f} bars/s in-loop ({bars / run.wall_seconds:,.0f} whole process)"
    return f"{bars / run.wall_seconds:,.0f} bars/s whole process (kpis.json: no loop figures)"


def timed(fn: Callable[[], object]) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


# ---- case 1: SMA on the sample, against backtrader ---------------------------------------------


def bench_sma_sample(rep: Report, tmp: Path, sizes: Sizes, args: argparse.Namespace,
                     gate: Gate) -> list[pd.DataFrame]:  # fmt: skip
    symbols = STOCKS[: sizes.sma_symbols]
    case = f"SMA 10/30 1-min, {len(symbols)} x {sizes.sma_days} days"
    instruments = Instruments.load(ib.INSTRUMENTS)
    windows = [btsma.load_window(ib.SAMPLE, instruments, s, SAMPLE_FIRST, sizes.sma_last, 1)
               for s in symbols]  # fmt: skip
    frames = [w.bars for w in windows]
    traded = traded_bars(windows)
    rep.add(case, "bars", f"{traded:,} traded (+ {sum(map(len, frames)) - traded:,} warm-up)")
    theirs = None if args.skip_backtrader else run_backtrader(rep, case, tmp, windows, sizes)
    skip = gate.skip_reason(len(symbols), sizes.sma_days)
    if skip:
        rep.add(case, "ibbot whole process", skip)
        if theirs is not None and gate.pace:
            est = len(symbols) * sizes.sma_days * RTH_S / gate.pace
            rep.add(case, "ratio backtrader / ibbot", f"~{theirs[0] / est:.2f}x (estimated)")
        return frames
    config = tmp / "sma_sample.yaml"
    config.write_text(ib.sma_config(symbols))
    run = ib.backtest(config, SAMPLE_FIRST, sizes.sma_last, tmp / "sma_sample",
                      engine=args.engine).check()  # fmt: skip
    ours = len(run.trades())
    rep.add(case, f"ibbot whole process ({run.engine})",
            f"{run.wall_seconds:.2f} s, peak RSS {run.peak_rss_mb:,.0f} MB")  # fmt: skip
    rep.add(case, "ibbot bars/s", rate_text(run, traded))
    if theirs is None:
        rep.add(case, "round trips", f"ibbot {ours}")
        return frames
    wall, count = theirs
    rep.add(case, "ratio backtrader / ibbot", f"{wall / run.wall_seconds:.2f}x (goal >= 20x)")
    floor = run_floor(symbols)
    rep.add(case, "whole-process floor (read the files, numpy signals)",
            f"{floor:.2f} s: backtrader / floor = {wall / floor:.1f}x, the most any engine "
            "reading these files could show")  # fmt: skip
    pct = (ours - count) / count * 100 if count else float("nan")
    rep.add(case, "round trips", f"ibbot {ours}, backtrader {count} ({pct:+.1f}%)")
    return frames


def run_floor(symbols: Sequence[str]) -> float:
    """bench/sma_floor.py as a whole process over ``symbols``: its wall seconds."""
    cmd = [sys.executable, str(REPO / "bench" / "sma_floor.py"), "--data", str(ib.SAMPLE),
           "--instruments", str(ib.INSTRUMENTS), "--symbols", ",".join(symbols)]
    code, wall, _, _, err = ib.measure(cmd)
    if code != 0:
        raise RuntimeError(f"floor run failed ({code}):\n{err[-3000:]}")
    return wall


def traded_bars(windows: Sequence[btsma.Window]) -> int:
    """Bars from each window's first traded bar on (its warm-up left out)."""
    return sum(int((w.bars.index >= w.live_from.replace(tzinfo=None)).sum()) for w in windows)


def run_backtrader(rep: Report, case: str, tmp: Path, windows: Sequence[btsma.Window],
                   sizes: Sizes) -> tuple[float, int]:  # fmt: skip
    """bench/backtrader_sma.py as a whole process: (wall seconds, round trips)."""
    symbols = [w.symbol for w in windows]
    out = tmp / "bt.csv"
    cmd = [sys.executable, str(REPO / "bench" / "backtrader_sma.py"), "--data", str(ib.SAMPLE),
           "--symbols", ",".join(symbols), "--from", SAMPLE_FIRST.isoformat(),
           "--to", sizes.sma_last.isoformat(), "--warmup-days", "1", "--out", str(out)]
    code, wall, rss, _, err = ib.measure(cmd)
    if code != 0:
        raise RuntimeError(f"backtrader run failed ({code}):\n{err[-3000:]}")
    trades = len(out.read_text().splitlines()) - 1
    traded = traded_bars(windows)
    rep.add(case, "backtrader whole process",
            f"{wall:.2f} s, {traded / wall:,.0f} bars/s, peak RSS {rss:,.0f} MB")  # fmt: skip
    return wall, trades


# ---- case 2: one symbol, up to 1M bars -----------------------------------------------------------


def one_instrument_file(tmp: Path, symbol: str) -> Path:
    """config/instruments.yaml cut to ``symbol`` (its defaults kept)."""
    raw = yaml.safe_load(ib.INSTRUMENTS.read_text())
    raw["instruments"] = [i for i in raw["instruments"] if i["symbol"] == symbol]
    path = tmp / "instruments.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def synth(out: Path, symbols: Sequence[str], start: date, days: int, bar_s: int,
          instruments: Path) -> None:  # fmt: skip
    cmd = [*ib.IBBOT, "data", "synth", "--out", str(out), "--symbols", ",".join(symbols),
           "--start", start.isoformat(), "--days", str(days), "--bar-size", str(bar_s),
           "--seed", "7", "--instruments", str(instruments)]  # fmt: skip
    code, _, _, _, err = ib.measure(cmd)
    if code != 0:
        raise RuntimeError(f"ibbot data synth failed ({code}):\n{err[-3000:]}")


def bench_big(rep: Report, tmp: Path, sizes: Sizes, args: argparse.Namespace,
              gate: Gate) -> pd.DataFrame:  # fmt: skip
    small, big = sizes.big_bars
    case = f"1 symbol x {big:,} 1-min bars"
    days = trading_days(date(2016, 1, 4), -(-big // MINUTE_BARS_PER_DAY) + 1)  # + warm-up day
    data, instruments = tmp / "big", one_instrument_file(tmp, "AAPL")
    synth(data, ["AAPL"], days[0], len(days), 60, instruments)
    config = tmp / "big.yaml"
    config.write_text(ib.sma_config(["AAPL"], data=data, instruments=instruments))
    frame = btsma.load_window(data, Instruments.load(instruments), "AAPL", days[1], days[-1],
                              1).bars  # fmt: skip
    for n in (small, big):
        traded_days = days[1 : 1 + -(-n // MINUTE_BARS_PER_DAY)]
        skip = gate.skip_reason(1, len(traded_days))
        label = f"at {n:,} bars"
        if skip:
            rep.add(case, label, skip)
            continue
        run = ib.backtest(config, traded_days[0], traded_days[-1], tmp / f"big{n}",
                          engine=args.engine).check()  # fmt: skip
        bars = len(traded_days) * MINUTE_BARS_PER_DAY
        rep.add(case, f"{label} ({run.engine})", f"{rate_text(run, bars)}, "
                f"peak RSS {run.peak_rss_mb:,.0f} MB (target < 1,024)")  # fmt: skip
    return frame


# ---- case 3: macd_stochastic on a year of 15-minute bars -------------------------------------


def macd_config(tmp: Path, data: Path, symbols: Sequence[str]) -> Path:
    """config/macd_stochastic.yaml on ``data`` and ``symbols``, everything else as shipped."""
    raw = yaml.safe_load((REPO / "config" / "macd_stochastic.yaml").read_text())
    raw["gateway"].update(data=str(data), instruments=str(ib.INSTRUMENTS))
    raw["universe"]["symbols"] = list(symbols)
    raw["strategies"][0]["symbols"] = list(symbols)
    path = tmp / "macd.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


def bench_macd(rep: Report, tmp: Path, sizes: Sizes, args: argparse.Namespace,
               gate: Gate) -> list[pd.DataFrame]:  # fmt: skip
    symbols = STOCKS[: sizes.macd_symbols]
    case = f"macd_stochastic 15-min, {len(symbols)} x {sizes.macd_days} days"
    warmup = 5  # the config's "5 D"
    days = trading_days(date(2025, 1, 2), sizes.macd_days + warmup)
    data = tmp / "m15"
    synth(data, symbols, days[0], len(days), 900, ib.INSTRUMENTS)
    instruments = Instruments.load(ib.INSTRUMENTS)
    windows = [btsma.load_window(data, instruments, s, days[warmup], days[-1], warmup)
               for s in symbols]  # fmt: skip
    frames, bars = [w.bars for w in windows], traded_bars(windows)
    skip = gate.skip_reason(len(symbols), sizes.macd_days)
    if skip:
        rep.add(case, "ibbot", skip)
        return frames
    run = ib.backtest(macd_config(tmp, data, symbols), days[warmup], days[-1], tmp / "macd",
                      engine=args.engine).check()  # fmt: skip
    rep.add(case, f"ibbot ({run.engine})", f"{rate_text(run, bars)}, "
            f"peak RSS {run.peak_rss_mb:,.0f} MB, {len(run.trades())} round trips")  # fmt: skip
    return frames


# ---- the numpy floor -----------------------------------------------------------------------------


def macd_stoch_signals(bars: pd.DataFrame) -> np.ndarray:
    """macd_stochastic's entry condition on every bar (True where it would buy when flat)."""
    m = MACD(12, 26, 9, source="course").batch(bars)
    st = Stochastic(20, 3).batch(bars)["d"].to_numpy()
    prev = np.roll(st, 1)
    prev[0] = np.nan
    return np.asarray((m["macd"] > m["signal"]).to_numpy() & (st > 30) & (st > prev))


def bench_floor(rep: Report, sma_frames: list[pd.DataFrame], big: list[pd.DataFrame],
                macd_frames: list[pd.DataFrame]) -> None:  # fmt: skip
    """The floor of each case run (``big``: its one frame, or none)."""
    case = "numpy floor (signals only)"
    big_bars = sum(map(len, big))
    runs: list[tuple[str, list[pd.DataFrame], Callable[[pd.DataFrame], object]]] = [
        ("SMA 10/30, sample", sma_frames, lambda f: sma_signals(f["close"].to_numpy())),
        (f"SMA 10/30, {big_bars:,} bars", big, lambda f: sma_signals(f["close"].to_numpy())),
        ("MACD/stochastic, 15-min", macd_frames, macd_stoch_signals),
    ]
    for label, frames, signals in runs:
        if not frames:
            continue
        secs = timed(lambda fs=frames, fn=signals: [fn(f) for f in fs])  # type: ignore[misc]
        n = sum(map(len, frames))
        rep.add(case, label, f"{n / secs:,.0f} bars/s ({n:,} bars, {secs * 1e3:.1f} ms)")


CASES = ("sma", "big", "macd")


def _cases(text: str) -> set[str]:
    chosen = {c.strip() for c in text.split(",") if c.strip()}
    if not chosen or chosen - set(CASES):
        raise argparse.ArgumentTypeError(
            f"--cases {text!r}: choose from {', '.join(CASES)} (comma-separated)"
        )
    return chosen


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="small sizes: a smoke run")
    ap.add_argument("--engine", choices=("inprocess", "gateway"), default="inprocess")
    ap.add_argument("--skip-backtrader", action="store_true", help="ibbot and the floor only")
    ap.add_argument("--gateway-budget", type=float, default=120, metavar="SECONDS",
                    help="skip a gateway-replay run estimated to take longer (default 120)")
    ap.add_argument("--cases", default=",".join(CASES), type=_cases,
                    help="comma-separated cases to run: sma, big, macd (default: all)")
    args = ap.parse_args(argv)
    sizes = QUICK if args.quick else FULL
    engine = args.engine
    print(f"engine: {engine}; sizes: {'quick' if args.quick else 'full'}", flush=True)
    rep = Report()
    gate = Gate(engine, args.gateway_budget)
    with tempfile.TemporaryDirectory(prefix="backtest-bench-") as name:
        tmp = Path(name)
        gate.calibrate(tmp)
        if gate.pace is not None:
            rep.add("gateway calibration", "pace", f"{gate.pace:,.0f} symbol-seconds/s "
                    "(2 symbols x 1 day)")  # fmt: skip
        cases = args.cases
        sma_frames = bench_sma_sample(rep, tmp, sizes, args, gate) if "sma" in cases else []
        big = [bench_big(rep, tmp, sizes, args, gate)] if "big" in cases else []
        macd_frames = bench_macd(rep, tmp, sizes, args, gate) if "macd" in cases else []
        bench_floor(rep, sma_frames, big, macd_frames)
    print()
    print(rep.render())
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
