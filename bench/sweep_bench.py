"""Sweep throughput: backtests per second of ``ibbot optimize``'s engines against a plain loop.

Usage: ``python bench/sweep_bench.py [--quick] [--days N] [--symbols N] [--no-ray]``. Prints one
table; every figure is measured in this run.

The sweep: sma_crossover on 5-minute bars of the first ``--symbols`` sample stocks over the
first ``--days`` trading days from 2026-10-05 (one warm-up day before), one backtest per
parameter set of ``fast=4..10:2, slow=20..50:10`` (16 sets; ``--quick``: 8 sets, 1 day,
2 symbols). The market data is loaded once, and one backtest run untimed, before any timing.

* **sequential loop**: ``plan`` + ``run_backtest`` per parameter set, one after another in
  this process (what a script would do without bot/optimize).
* **local, 1 / 2 workers**: bot.research.optimize.engines.run_tasks, timed from the call to the last
  outcome, so the pool's start (forking, shipping the market) is included. One worker runs
  the tasks in this process (no pool).
* **ray local, 2 CPUs**: the same on Ray tasks; Ray's own start (``ray.init``) is timed apart
  and excluded, the ``ray.put`` of the market and every task included.

backtests/s = parameter sets / wall seconds; speed-up = the sequential loop's wall / the row's.
Every row's KPIs are checked against the sequential loop's ("same": yes or NO).
"""

from __future__ import annotations

import argparse
import importlib.util
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script
    sys.path.insert(0, str(REPO))

from bot.backtest import kpis  # noqa: E402
from bot.backtest.report import TOTAL  # noqa: E402
from bot.backtest.runner import plan, run_backtest  # noqa: E402
from bot.config.bot_config import BotConfig  # noqa: E402
from bot.config.load import load_config  # noqa: E402
from bot.research.optimize.engines import run_tasks  # noqa: E402
from bot.research.optimize.grid import candidates, parse_grid  # noqa: E402
from bot.research.optimize.tasks import Job, Task, with_params  # noqa: E402
from bot.runtime.text_table import render  # noqa: E402
from strategies.sma_crossover import SmaCrossoverParams  # noqa: E402

SYMBOLS = ["AAPL", "MSFT", "NVDA", "AMZN", "GOOGL", "TSLA"]
FIRST = date(2026, 10, 5)


def _config(tmp: Path, symbols: list[str]) -> BotConfig:
    path = tmp / "sweep.yaml"
    names = ", ".join(symbols)
    path.write_text(
        "ib: {client_id: 71}\n"
        f"gateway: {{data: {REPO / 'data' / 'sample'}, "
        f"instruments: {REPO / 'config' / 'instruments.yaml'}, cash: 100000}}\n"
        "universe:\n"
        "  defaults: {sec_type: STK, exchange: SMART, currency: USD, primary_exchange: NASDAQ}\n"
        f"  symbols: [{names}]\n"
        "strategies:\n"
        f"  - {{id: sma, class: sma_crossover, symbols: [{names}],\n"
        "     bars: {size: 5 mins, warmup: 1 D}, sizing: {capital: 10000}}\n"
    )
    return load_config(path)


def _figures(total: dict[str, object]) -> tuple[object, ...]:
    return tuple(total.get(k) for k in ("end_equity", "sharpe", "trades", "max_drawdown"))


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="8 sets, 1 day, 2 symbols")
    ap.add_argument("--days", type=int, default=3, help="trading days (default 3)")
    ap.add_argument("--symbols", type=int, default=4, help="sample stocks (default 4)")
    ap.add_argument("--no-ray", action="store_true", help="skip the Ray row")
    args = ap.parse_args()
    days, nsym = (1, 2) if args.quick else (args.days, args.symbols)
    grid = "fast=4..10:2,slow=20..30:10" if args.quick else "fast=4..10:2,slow=20..50:10"
    with tempfile.TemporaryDirectory(prefix="sweep-bench-") as tmp_text:
        tmp = Path(tmp_text)
        cfg = _config(tmp, SYMBOLS[:nsym])
        t0 = time.monotonic()
        base = plan(cfg, FIRST, date(2026, 10, 30), out=tmp / "probe")
        load_s = time.monotonic() - t0
        span = base.days[:days]
        sets = candidates(list(parse_grid(grid).combinations()), {}, SmaCrossoverParams).params
        print(f"sweep: {len(sets)} parameter sets of sma_crossover, {nsym} symbols x "
              f"{len(span)} days ({span[0]} to {span[-1]}), 5-minute bars; market loaded once "
              f"in {load_s:.1f} s; {os.cpu_count()} cores", flush=True)  # fmt: skip
        settings = kpis.Settings()

        # One untimed backtest first, so no row pays for the market's first-touch caches.
        p = plan(with_params(cfg, "sma", sets[0]), span[0], span[-1], out=tmp / "warm",
                 market=base.market)  # fmt: skip
        run_backtest(p, progress=False)
        t0 = time.monotonic()
        expected = []
        for n, params in enumerate(sets):
            p = plan(with_params(cfg, "sma", params), span[0], span[-1], out=tmp / f"seq{n}",
                     market=base.market)  # fmt: skip
            expected.append(_figures(run_backtest(p, progress=False).figures[TOTAL]))
        rows = [("sequential loop (run_backtest)", 1, time.monotonic() - t0, "yes", "")]

        job = Job(cfg, "sma", settings)
        tasks = [Task(n, params, span[0], span[-1]) for n, params in enumerate(sets)]
        cases = [("local", 1), ("local", 2)]
        if not args.no_ray and importlib.util.find_spec("ray") is not None:
            cases.append(("ray", 2))
        ray_note = ""
        for engine, workers in cases:
            if engine == "ray":  # after the pools: their forks would inherit Ray's handlers
                import ray

                t0 = time.monotonic()
                ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
                ray_note = f"ray.init {time.monotonic() - t0:.1f} s, excluded"
            t0 = time.monotonic()
            got = {o.index: _figures(o.total) for o in run_tasks(
                engine, job, base.market, tasks, workers=workers, scratch=tmp)}  # fmt: skip
            wall = time.monotonic() - t0
            same = "yes" if [got[n] for n in range(len(sets))] == expected else "NO"
            name = {"ray": "ray local", "local": "local pool"}[engine]
            name = "local, in-process" if (engine, workers) == ("local", 1) else name
            rows.append((name, workers, wall, same, ray_note if engine == "ray" else ""))
        if ray_note:
            ray.shutdown()
    seq = rows[0][2]
    table = [[name, w, len(sets), f"{wall:.2f}", f"{len(sets) / wall:.2f}", f"{seq / wall:.2f}x",
              same, note] for name, w, wall, same, note in rows]  # fmt: skip
    print()
    print(render(["case", "workers", "backtests", "wall s", "backtests/s", "speed-up", "same",
                  "note"], table))  # fmt: skip
    return 0 if all(r[3] == "yes" for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
