"""The daily scanned universe: each trading day at a set exchange time, a market scanner's top N
become a strategy's symbols for that day.

    market clock ──▶ DailyScans.observe ──▶ due? reqScannerDataAsync, top N
        ──▶ on_result(strategy_id, day, rows): the daemon qualifies them and hands them to
            Router.set_symbols, which subscribes and warms up the new ones (bot/live/daemon.py)

Time is the broker's, never the wall clock: the feed's market clock (5-second bars of any
subscribed contract) calls ``observe``, and ``run`` polls ``reqCurrentTime`` every ``poll_s``
wall seconds for when nothing is subscribed yet. Started after ``at`` on a weekday, the day's
scan runs at once. While nothing is subscribed at all, ``run`` holds a scanner subscription:
its updates wake the poll, and a simulated gateway replaying as fast as its clients read only
moves its clock for a client with some subscription. A scan that fails (an IB error, a
timeout) is logged and counts as an empty scan: the strategy keeps its fixed symbols that day.
https://interactivebrokers.github.io/tws-api/market_scanners.html
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta, tzinfo
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from bot.client.ib import IB, ScanDataList, ScannerSubscription
from bot.config.strategies import ScannerConfig
from bot.model.ib_errors import is_warning
from bot.ports.venue import ScanFailed, ScanRow
from bot.runtime.deadlines import within

if TYPE_CHECKING:
    from bot.ports.venue import Venue

log = logging.getLogger(__name__)


class ScanSchedule:
    """When a daily scan is due: the first market time at or after ``at`` (exchange-local) on
    each weekday, once per exchange date."""

    def __init__(self, at: time, tz: tzinfo) -> None:
        self.at = at
        self.tz = tz
        self.done: date | None = None  # exchange date of the last scan started

    def due(self, now: datetime) -> date | None:
        """The exchange date to scan for at ``now``, or None."""
        local = now.astimezone(self.tz)
        if local.weekday() >= 5 or local.time() < self.at or local.date() == self.done:
            return None
        return local.date()

    def next_due(self, now: datetime) -> datetime:
        """The first instant from ``now`` at which ``due`` holds (``now`` if it holds now)."""
        local = now.astimezone(self.tz)
        day = local.date()
        while True:
            if day.weekday() < 5 and day != self.done:
                at = datetime.combine(day, self.at, self.tz)
                if at >= now:
                    return at
                if day == local.date():
                    return now
            day += timedelta(days=1)


def day_symbols(
    fixed: Sequence[str],
    scanned: Sequence[str],
    current: Sequence[str],
    holds: Callable[[str], bool],
) -> tuple[list[str], list[str], list[str]]:
    """(the day's symbols, earlier scans' kept, earlier scans' dropped): the fixed ones, today's
    scan, then those of ``current`` from earlier scans that the strategy ``holds`` (a position or
    working orders); the others of ``current`` are dropped."""
    earlier = [s for s in current if s not in fixed and s not in scanned]
    kept = [s for s in earlier if holds(s)]
    dropped = [s for s in earlier if s not in kept]
    return list(dict.fromkeys([*fixed, *scanned, *kept])), kept, dropped


def subscription(cfg: ScannerConfig, rows: int | None = None) -> ScannerSubscription:
    sub = ScannerSubscription(
        instrument=cfg.instrument,
        locationCode=cfg.location,
        scanCode=cfg.scan_code,
        numberOfRows=cfg.top if rows is None else rows,
    )
    if cfg.above_price is not None:
        sub.abovePrice = cfg.above_price
    if cfg.below_price is not None:
        sub.belowPrice = cfg.below_price
    if cfg.above_volume is not None:
        sub.aboveVolume = cfg.above_volume
    return sub


def rows_of(data: Any, top: int) -> list[ScanRow]:
    """ScanData (ib_insync) -> ScanRow, by rank, the first ``top``."""
    out = []
    for d in sorted(data or (), key=lambda d: d.rank):
        c = d.contractDetails.contract if d.contractDetails else None
        if c is None or not c.symbol:
            continue
        note = " ".join(x for x in (d.distance, d.benchmark, d.projection) if x)
        out.append(ScanRow(d.rank, c.symbol, c.secType, c.currency, c.conId, note))
    return out[:top]


def describe(cfg: ScannerConfig, day: date, rows: list[ScanRow]) -> str:
    """``scanner HIGH_OPEN_GAP 2026-10-20: top 3 NVDA, AMD, TSLA`` (with IB's notes, if any)."""
    names = ", ".join(f"{r.symbol} {r.note}" if r.note else r.symbol for r in rows)
    return f"scanner {cfg.scan_code} {day:%Y-%m-%d}: top {len(rows)} {names or '(none)'}"


async def request_scan(ib: IB, cfg: ScannerConfig, timeout: float) -> list[ScanRow]:
    """One ``reqScannerDataAsync``; ScanFailed on an IB error for it or a timeout.

    ib_insync ends a failed scan with an empty list (it only logs the error), so the errors
    of the request are caught from ``errorEvent`` by its reqId."""
    errors: list[tuple[int, int, str]] = []

    def on_error(req_id: int, code: int, text: str, contract: Any) -> None:
        errors.append((req_id, code, text))

    ib.errorEvent += on_error
    try:
        data: ScanDataList = await within(
            ib.reqScannerDataAsync(subscription(cfg)), timeout
        )
    except TimeoutError:
        raise ScanFailed(f"no answer in {timeout:g} s") from None
    finally:
        ib.errorEvent -= on_error
    req_id = getattr(data, "reqId", None)
    mine = [
        (code, text)
        for rid, code, text in errors
        if rid == req_id and not is_warning(code)
    ]
    if mine:
        raise ScanFailed("; ".join(f"error {code}: {text}" for code, text in mine))
    return rows_of(data, cfg.top)


ResultHandler = Callable[[str, date, list[ScanRow]], Awaitable[None]]


@dataclass(eq=False)
class _Entry:
    strategy_id: str
    cfg: ScannerConfig
    schedule: ScanSchedule
    task: asyncio.Task[None] | None = None


class DailyScans:
    """The daily scans of every strategy that has a ``scanner`` (see module doc)."""

    def __init__(
        self,
        venue: Venue,
        scanners: Mapping[str, ScannerConfig],
        on_result: ResultHandler,
        *,
        heartbeat: IB | None = None,
        poll_s: float = 1.0,
        timeout: float = 30.0,
        journal_event: Callable[..., None] | None = None,
    ) -> None:
        self.venue = venue
        self.ib = heartbeat  # IB only: a scanner subscription that wakes the idle poll
        self.on_result = on_result
        self.poll_s = poll_s
        self.timeout = timeout
        self.journal_event = journal_event
        self.entries = [
            _Entry(sid, cfg, ScanSchedule(cfg.at_time, ZoneInfo(cfg.timezone)))
            for sid, cfg in scanners.items()
        ]
        self.scans = 0  # completed (successful or not)
        self._wake = asyncio.Event()
        self._beat: ScanDataList | None = None
        self._stopped = False

    def __bool__(self) -> bool:
        return bool(self.entries)

    def observe(self, now: datetime) -> None:
        """The market's time moved to ``now``: start the scans that are due (synchronous,
        cheap: called from the feed's market clock)."""
        if self._stopped or not self.venue.connected():
            return  # after a reconnect the market clock and the poll come back
        for e in self.entries:
            day = e.schedule.due(now)
            if day is not None and (e.task is None or e.task.done()):
                e.schedule.done = day
                e.task = asyncio.get_running_loop().create_task(
                    self._scan(e, day, now), name=f"scan-{e.strategy_id}"
                )

    async def _scan(self, e: _Entry, day: date, now: datetime) -> None:
        try:
            rows = await self.venue.scan(e.cfg, self.timeout)
        except (ScanFailed, ConnectionError) as exc:
            msg = f"scanner {e.cfg.scan_code} {day:%Y-%m-%d} failed: {exc}; fixed symbols only"
            log.error("%s: %s", e.strategy_id, msg)
            self._journal("scan-failed", msg, now, e.strategy_id)
            rows = []
        else:
            text = describe(e.cfg, day, rows)
            log.info("%s: %s", e.strategy_id, text)
            self._journal("scan", text, now, e.strategy_id)
        try:
            await self.on_result(e.strategy_id, day, rows)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("%s: taking the scan's symbols failed", e.strategy_id)
        finally:
            self.scans += 1

    def _journal(self, kind: str, msg: str, now: datetime, sid: str) -> None:
        if self.journal_event is not None:
            self.journal_event(kind, msg, now, strategy_id=sid)

    async def run(self, idle: Callable[[], bool] = lambda: False) -> None:
        """Poll the broker's time; while ``idle()`` (nothing else subscribed) hold a scanner
        subscription whose updates wake the poll. Runs until cancelled."""
        if not self.entries:
            return
        try:
            while True:
                self._heartbeat(idle() and self.venue.connected())
                if self.venue.connected():
                    with contextlib.suppress(ConnectionError, TimeoutError, OSError):
                        now = await within(self.venue.current_time(), self.timeout)
                        self.observe(now)
                self._wake.clear()
                with contextlib.suppress(TimeoutError):
                    await within(self._wake.wait(), self.poll_s)
        finally:
            self._heartbeat(False)

    def _heartbeat(self, on: bool) -> None:
        if self.ib is None:
            return
        if on and self._beat is None:
            self._beat = self.ib.reqScannerSubscription(subscription(self.entries[0].cfg, 1))
            self._beat.updateEvent += self._on_beat
        elif not on and self._beat is not None:
            self._beat.updateEvent -= self._on_beat
            if self.ib.isConnected():
                self.ib.cancelScannerSubscription(self._beat)
            self._beat = None

    def _on_beat(self, *_: Any) -> None:
        self._wake.set()

    def running(self) -> list[asyncio.Task[None]]:
        """The scans under way (a backtest waits for them before time moves on)."""
        return [e.task for e in self.entries if e.task is not None and not e.task.done()]

    async def stop(self) -> None:
        """Stop starting scans and cancel the running ones."""
        self._stopped = True
        tasks = [e.task for e in self.entries if e.task is not None and not e.task.done()]
        for t in tasks:
            t.cancel()
        for t in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await t
