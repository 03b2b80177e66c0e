"""Backtests: the live daemon replayed over a date range of the simulated gateway's data.

``runner`` plans and runs the replay (the same ``Daemon`` as ``ibbot run``, on the embedded
gateway at max speed), ``ledger`` reads the journal's fills and pairs them into round trips,
``kpis`` computes the figures from an equity curve and the trades (pure functions), and
``report`` builds the daily equity curve and writes equity.csv, trades.csv and kpis.json;
``run_files`` reads a finished run's folder back, ``charts`` draws its plotly figures and
``html_report`` writes report.html with PNGs beside it (``ibbot report``, ``--report``).
"""
