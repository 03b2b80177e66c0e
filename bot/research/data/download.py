"""Fetch historical bars from IB into the Parquet store, window by window (download_plan.py).

Every request waits its turn in the ``HistoryGovernor`` (bot/market_data/history_pacing.py), so IB's
pacing rules hold and a 162 pacing violation is retried rather than taken for "no data". The symbols
download side by side (one window in flight each), which keeps the 6-per-2-seconds rule for a
contract from ever binding; the 60-per-10-minutes rule sets the pace of a long download.

Each window's bars are merged into the store as soon as they arrive (``merge_bars``: atomic,
without duplicates), so an interruption loses at most the windows in flight and the next run
asks only for what is still missing. An empty answer (162 "HMDS query returned no data": a
weekend, a holiday) is an empty window, not an error. ``ADJUSTED_LAST`` is fetched as IB serves
it, without an end date, so in one request over the whole range; its prices are adjusted as of
today, so the file is replaced, never merged.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd
from eventkit import Event

from bot.market_data.bar_builder import clean_volume
from bot.market_data.history_pacing import (
    HistoryGovernor,
    HistoryKey,
    PacingViolationError,
    is_pacing_violation,
)
from bot.model.ib_time import format_ib_time
from bot.research.data.download_plan import ADJUSTED_LAST, Window, bar_size_setting
from bot.research.data.store import merge_bars, read_store_file
from bot.runtime.deadlines import within

if TYPE_CHECKING:
    from bot.client.ib import IB, BarData, Contract

NO_DATA = "query returned no data"  # IB's 162 for a window without bars


@dataclass(frozen=True, slots=True)
class Job:
    """One symbol's download: the windows to ask for, the file they go to."""

    symbol: str
    contract: Contract
    path: Path
    windows: tuple[Window, ...]
    start: datetime  # bars before it are not kept (the last window may reach further back)
    session_open: Callable[[date], datetime | None] | None = None  # daily bars: date -> time


@dataclass(slots=True)
class Tally:
    """What a job has done so far (the summary line; also after an interruption)."""

    symbol: str
    path: Path
    planned: int
    requests: int = 0
    empty: int = 0  # windows IB had no bars for
    added: int = 0
    replaced: int = 0
    error: str | None = None
    stored: tuple[pd.Timestamp, pd.Timestamp] | None = None  # the file's range after


@dataclass
class Downloader:
    ib: IB
    governor: HistoryGovernor
    bar_seconds: int
    what: str
    timeout: float
    # A window answered (progress bars): announced, as several may watch the run.
    window_event: Event = field(default_factory=lambda: Event("window_event"))
    latencies: list[float] = field(default_factory=list)  # seconds per answered request
    tallies: list[Tally] = field(default_factory=list)  # the last run's, as it goes

    async def run(self, jobs: Sequence[Job]) -> list[Tally]:
        """All jobs side by side; the tallies in job order. Cancelled (Ctrl-C): the tallies so
        far are in ``self.tallies`` and every window written is in the store."""
        self.tallies = [Tally(j.symbol, j.path, len(j.windows)) for j in jobs]
        await asyncio.gather(*(self._job(j, t) for j, t in zip(jobs, self.tallies, strict=True)))
        return self.tallies

    async def _job(self, job: Job, tally: Tally) -> None:
        from bot.client.ib import RequestError

        try:
            for window in job.windows:
                bars = await self._fetch(job, window)
                tally.requests += 1
                # Off the event loop: a write holding it would delay the next requests on
                # their way out, and IB counts them when they arrive.
                write = asyncio.ensure_future(asyncio.to_thread(self._store, job, tally, bars))
                try:
                    await asyncio.shield(write)
                except asyncio.CancelledError:  # Ctrl-C: the window that arrived is kept, and
                    await write  # no writer outlives the run to race the next one's merge
                    raise
                self.window_event.emit()
        except RequestError as e:
            tally.error = f"IB refused a request (error {e.code}: {e.message})"
        except (ConnectionError, TimeoutError, PacingViolationError) as e:
            tally.error = str(e) or type(e).__name__
        except OSError as e:
            tally.error = f"cannot write {job.path}: {e}"
        finally:
            tally.stored = stored_range(job.path)

    async def _fetch(self, job: Job, window: Window) -> list[BarData]:
        """One window's bars ([] when IB has none), through the governor."""
        from bot.client.ib import RequestError

        adjusted = self.what == ADJUSTED_LAST
        end = "" if adjusted else format_ib_time(window.end)  # IB takes no end date for it
        bar_size = bar_size_setting(self.bar_seconds)
        c = job.contract
        key = HistoryKey(c.conId, c.exchange, self.what, bar_size, window.duration, end, False)
        paced = False

        async def send() -> list[BarData]:
            nonlocal paced
            paced = False
            t0 = time.monotonic()
            try:
                bars = await self.ib.reqHistoricalDataAsync(
                    c, end, window.duration, bar_size, self.what, False, formatDate=2,
                    timeout=0,
                )  # fmt: skip
            except RequestError as e:
                paced = is_pacing_violation(e.code, e.message)
                if paced or NO_DATA in e.message:
                    return []
                raise
            self.latencies.append(time.monotonic() - t0)
            return list(bars)

        async def timed() -> list[BarData]:
            try:
                return await within(send(), self.timeout)
            except TimeoutError:
                raise TimeoutError(
                    f"no answer to reqHistoricalData {window.duration} to "
                    f"{end or 'now'} within {self.timeout:g} s"
                ) from None

        return await self.governor.request(key, timed, lambda: paced)

    def _store(self, job: Job, tally: Tally, bars: list[BarData]) -> None:
        frame = bar_frame(bars, job.session_open)
        frame = frame[frame["time"] >= pd.Timestamp(job.start)]
        if frame.empty:
            tally.empty += 1
            return
        if self.what == ADJUSTED_LAST:
            tally.added, tally.replaced = replace_bars(job.path, frame)
            return
        merged = merge_bars(job.path, frame)
        tally.added += merged.added
        tally.replaced += merged.replaced


def bar_frame(
    bars: Sequence[BarData], session_open: Callable[[date], datetime | None] | None
) -> pd.DataFrame:
    """IB's bars as store rows: intraday bars at their start (UTC), daily bars at their
    session's open (as ``ibbot data import`` stores them)."""
    times = [_bar_time(b.date, session_open) for b in bars]
    return pd.DataFrame(
        {
            "time": pd.to_datetime(times, utc=True),
            "open": [b.open for b in bars],
            "high": [b.high for b in bars],
            "low": [b.low for b in bars],
            "close": [b.close for b in bars],
            "volume": [clean_volume(b.volume) for b in bars],
        }
    )


def _bar_time(d: object, session_open: Callable[[date], datetime | None] | None) -> datetime:
    if isinstance(d, datetime):
        return d
    assert isinstance(d, date), d
    opened = session_open(d) if session_open is not None else None
    if opened is None:
        raise ValueError(f"a daily bar on {d}, not a trading day of the instrument")
    return opened


def replace_bars(path: Path, frame: pd.DataFrame) -> tuple[int, int]:
    """Write ``frame`` as the whole file (atomically); (bars new, bars there before)."""
    before = len(read_store_file(path, ["time"])) if path.exists() else 0
    fresh = path.with_name(f".{path.name}.new")
    fresh.unlink(missing_ok=True)
    merged = merge_bars(fresh, frame)
    os.replace(fresh, path)
    return merged.rows, before


def stored_range(path: Path) -> tuple[pd.Timestamp, pd.Timestamp] | None:
    """The first and last bar start of a store file (None: no file, or empty)."""
    if not path.exists():
        return None
    times = read_store_file(path, ["time"])["time"]
    if times.empty:
        return None
    return pd.Timestamp(times.iloc[0]), pd.Timestamp(times.iloc[-1])
