"""The sequence of ``ibbot optimize``: check every input before any backtest, load the market
once, run the sweep (or the walk-forward), write the files, print the top 10."""

from __future__ import annotations

import argparse
import sys
import tempfile
from datetime import date
from pathlib import Path

from pydantic import BaseModel

from bot.backtest import kpis
from bot.backtest.runner import BacktestError, Plan, plan
from bot.config.bot_config import BotConfig
from bot.config.strategies import StrategyConfig
from bot.research.optimize import report, results, walk_forward
from bot.research.optimize.engines import EngineError, require, session
from bot.research.optimize.grid import Candidates, GridError, candidates, check_names, parse_grid
from bot.research.optimize.results import MetricError, Row
from bot.research.optimize.sweep import Runner, sweep, walk_forward_sweep
from bot.research.optimize.tasks import Job
from bot.sim.datafile import DataFileError


class InputError(Exception):
    """Bad input: exit 2 with this message."""


def pick_strategy(cfg: BotConfig, wanted: str | None, path: Path) -> StrategyConfig:
    enabled = [s for s in cfg.strategies if s.enabled]
    if wanted is not None:
        found = [s for s in cfg.strategies if s.id == wanted]
        if not found:
            ids = ", ".join(s.id for s in cfg.strategies)
            raise InputError(f"--strategy {wanted!r}: {path} has no such strategy; its ids: {ids}")
        if not found[0].enabled:
            raise InputError(f"--strategy {wanted!r} is disabled in {path} (enabled: false)")
        return found[0]
    if len(enabled) != 1:
        ids = ", ".join(s.id for s in enabled) or "none"
        raise InputError(f"{path} has {len(enabled)} enabled strategies ({ids}): name the one "
                         "to optimize with --strategy ID")  # fmt: skip
    return enabled[0]


def _candidates(args: argparse.Namespace, s: StrategyConfig) -> tuple[Candidates, int]:
    """(the parameter sets to run, how many combinations were drawn)."""
    model: type[BaseModel] = s.strategy_class().Params
    grid = parse_grid(args.grid)
    check_names(grid, model, f"{s.id} ({s.class_})")
    combos = grid.sample(args.random, args.seed) if args.random is not None else list(
        grid.combinations()
    )
    cands = candidates(combos, s.params, model)
    if not cands.params:
        combo, why = cands.skipped[0]
        raise GridError(f"--grid: strategy {s.id} ({s.class_}) refuses all {len(combos)} "
                        f"combinations, e.g. {combo}: {why}")  # fmt: skip
    return cands, len(combos)


def execute(args: argparse.Namespace, cfg: BotConfig, settings: kpis.Settings) -> int:
    s = pick_strategy(cfg, args.strategy, args.config)
    try:
        cands, drawn = _candidates(args, s)
        results.check_metric(args.metric)
        spans = walk_forward.parse_spec(args.walk_forward) if args.walk_forward else None
        if args.workers < 1:
            raise InputError(f"--workers must be at least 1, got {args.workers}")
        require(args.engine, args.address)
    except (GridError, MetricError, walk_forward.WalkForwardError, EngineError) as e:
        raise InputError(str(e)) from None
    with tempfile.TemporaryDirectory(prefix="ibbot-optimize-") as tmp:
        try:
            p = plan(cfg, args.first or date.min, args.last or date.max, out=Path(tmp))
            wins = walk_forward.windows(p.days, *spans) if spans else []
        except (BacktestError, DataFileError, walk_forward.WalkForwardError) as e:
            raise InputError(str(e)) from None
        from bot.runtime.logs import setup_logging

        setup_logging(args.log_level.upper(), cfg.logging.format)
        runner = Runner(Job(cfg, s.id, settings), p.market, args.engine, args.workers,
                        Path(tmp), args.address)  # fmt: skip
        out = args.out or Path("runs") / f"optimize-{args.config.stem}-{s.id}"
        _announce(args, s, p, cands, drawn, len(wins))
        try:
            with session(args.engine, args.workers, args.address):
                return _run(args, s, p, runner, cands, wins, out)
        except EngineError as e:
            raise InputError(str(e)) from None


def _announce(args: argparse.Namespace, s: StrategyConfig, p: Plan, cands: Candidates,
              drawn: int, windows: int) -> None:  # fmt: skip
    skipped = f", {len(cands.skipped)} skipped ({cands.skipped[0][1]})" if cands.skipped else ""
    where = f"{windows} walk-forward windows x " if windows else ""
    print(f"optimize {args.config} strategy {s.id} ({s.class_}) by {args.metric}: "
          f"{p.days[0]} to {p.days[-1]} ({len(p.days)} trading days); {drawn} combinations"
          f"{skipped}; {where}{len(cands.params)} backtests on {args.engine} "
          f"({args.workers} workers)", flush=True)  # fmt: skip


def _run(args: argparse.Namespace, s: StrategyConfig, p: Plan, runner: Runner,
         cands: Candidates, wins: list[walk_forward.Window], out: Path) -> int:  # fmt: skip
    names = list(cands.varied[0])
    done: list[walk_forward.WindowResult] = []
    if wins:
        rows, done, stopped = walk_forward_sweep(runner, cands, wins, args.metric)
    else:
        rows, stopped = sweep(runner, cands, p.days[0], p.days[-1])
    out.mkdir(parents=True, exist_ok=True)
    results.write_results_csv(out / "results.csv", rows, names, args.metric)
    written = ["results.csv"]
    best = _best(rows, done, args.metric, bool(wins))
    if best is not None:
        context = f"{args.config} --grid '{args.grid}' ({p.days[0]} to {p.days[-1]})"
        model = s.strategy_class().Params
        (out / "best.yaml").write_text(
            results.best_yaml(best, model, strategy=s.id, metric=args.metric, context=context)
        )
        written.append("best.yaml")
        if best.value(args.metric) is None:
            print(f"ibbot optimize: no parameter set has a {args.metric} (undefined, e.g. no "
                  "volatility over too short a range): best.yaml holds the first in grid "
                  "order", file=sys.stderr)  # fmt: skip
    if done:
        walk_forward.write_csv(out / "walk_forward.csv", done, names, args.metric)
        walk_forward.write_equity_csv(out / "oos_equity.csv", *walk_forward.stitch(done))
        written += ["walk_forward.csv", "oos_equity.csv"]
    page = report.Page(
        f"Parameter sweep of {s.id} ({s.class_}) on {args.config}",
        f"{p.days[0]} to {p.days[-1]}; grid {args.grid}; ranked by {args.metric}; "
        f"{len(rows)} backtests" + (f"; walk-forward {args.walk_forward}" if wins else ""),
        names, args.metric, rows, done,
    )  # fmt: skip
    (out / "report.html").write_text(report.render(page), encoding="utf-8")
    written.append("report.html")
    print()
    print(results.top_table(rows, names, args.metric))
    if done:
        print()
        for r in done:
            print(f"window {r.window.number}: best {r.best.varied} in sample; out of sample "
                  f"{args.metric} {results._fmt(r.oos.outcome.total.get(args.metric))}, return "
                  f"{results._fmt(r.oos.outcome.total.get('total_return'))}")  # fmt: skip
    print(f"\nwrote {out}/" + ", ".join(written))
    if stopped:
        print(f"ibbot optimize: STOPPED, {stopped}: {len(rows)} in-sample and "
              f"{len(done)} out-of-sample backtests finished; the files hold those only"
              if wins else f"ibbot optimize: STOPPED, {stopped}: {len(rows)} of "
              f"{len(cands.params)} backtests finished; the files hold those only",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0


def _best(rows: list[Row], done: list[walk_forward.WindowResult], metric: str,
          walk: bool) -> Row | None:  # fmt: skip
    """The full-range sweep's best; for a walk-forward, the last window's (the one to trade
    next), none if no window completed."""
    if walk:
        return done[-1].best if done else None
    ranked = results.ranked(rows, metric)
    return ranked[0] if ranked else None
