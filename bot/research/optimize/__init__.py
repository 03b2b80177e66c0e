"""Parameter sweeps: ``ibbot optimize`` (bot/commands/optimize.py). grid.py parses --grid,
tasks.py runs one backtest per parameter set, engines.py spreads the tasks (process pool or
Ray), sweep.py drives them (and the walk-forward of walk_forward.py), results.py and
report.py write what came out; flow.py is the command's sequence."""
