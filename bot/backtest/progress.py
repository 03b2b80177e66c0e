"""A progress bar over a backtest's simulated time (tqdm), on a terminal only."""

from __future__ import annotations

import sys
from datetime import datetime
from typing import Any


class Progress:
    """``update(t)`` as the replay reaches simulated time ``t``; silent when stderr is not a
    terminal (CI, pipes, tests)."""

    def __init__(self, start: datetime, end: datetime, *, enabled: bool | None = None) -> None:
        self.start, self.end = start, end
        on = sys.stderr.isatty() if enabled is None else enabled
        self._bar: Any = None
        if on:
            from tqdm import tqdm

            days = max((end - start).total_seconds() / 86400, 1e-9)
            self._bar = tqdm(total=round(days, 2), unit="day", desc="backtest", leave=False,
                             bar_format="{desc} {percentage:3.0f}%|{bar}| {n:.1f}/{total:.1f}"
                             " days [{elapsed}<{remaining}]")  # fmt: skip
        self._done = 0.0

    def __call__(self, t: datetime) -> None:
        if self._bar is None:
            return
        done = round((t - self.start).total_seconds() / 86400, 2)
        if done > self._done:
            self._bar.update(done - self._done)
            self._done = done

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()
