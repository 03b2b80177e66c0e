"""The finished run the report tests share (tests/backtest/report_run.py)."""

from report_run import report_run

__all__ = ["report_run"]
