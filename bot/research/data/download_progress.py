"""The download's progress bar (tqdm, on a terminal only) with an ETA from IB's pacing rules.

tqdm's own estimate extrapolates the rate so far, which is wrong twice over for IB: the first
60 requests go at once, then the 10-minute window holds the rest back. The ETA here is the
governor's: the least time the pacing rules allow for the requests left
(``HistoryGovernor.eta``), or, when the rules do not bind, the requests left at the observed
time per request over the symbols still running side by side.
"""

from __future__ import annotations

import statistics
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from bot.market_data.history_pacing import HistoryGovernor
    from bot.research.data.download import Downloader


class Progress:
    def __init__(self, total: int, governor: HistoryGovernor, downloader: Downloader) -> None:
        self.total, self.done = total, 0
        self.governor, self.downloader = governor, downloader
        self._bar: Any = None
        if total and sys.stderr.isatty():
            from tqdm import tqdm

            self._bar = tqdm(total=total, unit="req", desc="download", leave=False,
                             bar_format="{desc}: {percentage:3.0f}%|{bar}| {n_fmt}/{total_fmt} "
                             "requests [{elapsed}{postfix}]")  # fmt: skip
            self._bar.set_postfix_str(f"ETA {duration_text(self.eta())}")

    def eta(self) -> float:
        left = self.total - self.done
        paced = self.governor.eta(left)
        times = self.downloader.latencies
        if not left or not times:
            return paced
        lanes = sum(t.requests < t.planned and not t.error for t in self.downloader.tallies)
        return max(paced, left * statistics.fmean(times[-50:]) / max(1, lanes))

    def step(self) -> None:
        self.done += 1
        if self._bar is not None:
            self._bar.update(1)
            self._bar.set_postfix_str(f"ETA {duration_text(self.eta())}")

    def close(self) -> None:
        if self._bar is not None:
            self._bar.close()


def duration_text(seconds: float) -> str:
    """1 h 05 min, 3 min 20 s, 12 s."""
    s = round(seconds)
    if s >= 3600:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    if s >= 60:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s} s"
