"""Recording a session: the bars and ticks the daemon receives, to Parquet, for the backtester.

``record: {dir: runs/rec}`` in a config (or ``ibbot run --record DIR``) records, per symbol, kind
and UTC day, under ``<dir>/<SYMBOL>/<kind>/<YYYY-MM-DD>/<part>.parquet``:

* ``<bar>-<WHAT>[-rth]`` (``1min-TRADES``, ``15min-TRADES-rth``): every closed bar a stream hands
  the strategies, warm-up (``live`` false) and live alike: what the backtester replays
  (bot/sim/recording.py);
* ``rt-<WHAT>``: IB's 5-second real-time bars as they arrive, before the data-quality filter;
* ``ticks`` (market data) and ``ticks-<type>`` (tick-by-tick: ``ticks-AllLast``, ``ticks-BidAsk``
  ...): every tick the strategies see.

The hot path (the feed's callbacks, inside ib_insync's socket read) only appends a tuple to a
buffer. A background thread writes the buffers every ``flush`` seconds (sooner once
``batch_rows`` rows wait), one new part file per (symbol, kind, day) each time, written to a
temporary name and renamed, so a file is either whole or absent; ``close()`` (a clean shutdown)
writes the rest. A crash loses at most what arrived since the last write: ``flush`` seconds of
data (5 s by default), or ``batch_rows`` rows. So that a long session does not leave thousands
of small files, a session's parts of a day folder are merged into one file once there are
``COMPACT_AT`` of them, and all of them at a clean close.

A failing disk never disturbs trading: the first write error is logged, recording stops (what
is buffered is dropped, later data is ignored) and the daemon trades on.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import threading
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from bot.market_data.streams import BarHandler, StreamKey, TickHandler, live_what_to_show
from bot.model.events import Bar, Tick
from bot.sim.datafile import bar_name
from bot.sim.recording import MANIFEST

log = logging.getLogger(__name__)

COMPACT_AT = 256  # a folder's parts of one session merged into one file at this many
FORMAT = "ibbot-recording"

_TS = pa.timestamp("us", tz="UTC")
_F = pa.float64()
BAR_SCHEMA = pa.schema([("time", _TS), ("open", _F), ("high", _F), ("low", _F), ("close", _F),
                        ("volume", _F), ("live", pa.bool_())])  # fmt: skip
RT_SCHEMA = pa.schema([("time", _TS), ("open", _F), ("high", _F), ("low", _F), ("close", _F),
                       ("volume", _F), ("wap", _F), ("count", pa.int64())])  # fmt: skip
TICK_SCHEMA = pa.schema([("time", _TS), ("bid", _F), ("ask", _F), ("last", _F),
                         ("bid_size", _F), ("ask_size", _F), ("last_size", _F),
                         ("midpoint", _F)])  # fmt: skip


def bar_kind(key: StreamKey) -> str:
    """The folder of a stream's bars: ``15min-TRADES-rth``."""
    rth = "-rth" if key.use_rth else ""
    return f"{bar_name(key.size_s)}-{key.what_to_show.upper()}{rth}"


def tick_kind(tick_by_tick: str | None) -> str:
    return "ticks" if tick_by_tick is None else f"ticks-{tick_by_tick}"


_Slot = tuple[str, str, str]  # where a buffer's rows go: symbol, kind, UTC day (YYYY-MM-DD)


class Recorder:
    """Buffers rows in the hot path; a thread writes them (see module doc)."""

    def __init__(self, folder: Path, *, flush_s: float = 5.0, batch_rows: int = 10_000) -> None:
        self.folder = folder
        self.flush_s = flush_s
        self.batch_rows = batch_rows
        self.failed = False
        self.rows_written = 0
        self.files_written = 0
        self.tick_by_tick: dict[str, str] = {}  # the feed's symbol -> tick-by-tick type
        self._buffers: dict[_Slot, list[tuple[Any, ...]]] = {}
        self._schemas: dict[str, pa.Schema] = {}  # kind -> its columns
        self._days: dict[date, str] = {}  # the day folders' names
        self._pending = 0
        self._lock = threading.Lock()  # the hot path's appends vs the thread's swap
        self._wake = threading.Event()
        self._closing = False
        # Part names sort in writing order, across sessions too: a later copy of a row wins.
        self._token = f"{time.time_ns():020d}-{os.getpid()}"
        self._seq = 0
        self._parts: dict[Path, list[Path]] = {}  # folder -> this session's files there
        self._thread = threading.Thread(target=self._loop, name="recorder", daemon=True)

    @classmethod
    def open(cls, folder: Path, *, flush_s: float = 5.0, batch_rows: int = 10_000) -> Recorder:
        """Start recording into ``folder`` (created; a failure is logged and the recorder
        starts already stopped, so the daemon trades on unrecorded)."""
        rec = cls(folder, flush_s=flush_s, batch_rows=batch_rows)
        try:
            folder.mkdir(parents=True, exist_ok=True)
            manifest = folder / MANIFEST
            if not manifest.exists():
                started = datetime.now(UTC).isoformat(timespec="seconds")
                manifest.write_text(json.dumps({"format": FORMAT, "version": 1,
                                                "created": started}) + "\n")  # fmt: skip
        except OSError as e:
            rec._fail(e)
            return rec
        rec._thread.start()
        log.info("recording bars and ticks to %s (written every %g s)", folder, flush_s)
        return rec

    # ---- the hot path ---------------------------------------------------------------------

    def wrap_bars(self, on_bar: BarHandler) -> BarHandler:
        def recorded(key: StreamKey, bar: Bar, live: bool) -> None:
            self.bar(key, bar, live)
            on_bar(key, bar, live)

        return recorded

    def wrap_ticks(self, on_tick: TickHandler) -> TickHandler:
        def recorded(tick: Tick) -> None:
            self.tick(tick)
            on_tick(tick)

        return recorded

    # Each of these runs inside the feed's callback: whatever goes wrong stops the recording,
    # never reaches the feed.

    def bar(self, key: StreamKey, bar: Bar, live: bool) -> None:
        """A closed bar as the strategies get it."""
        try:
            self._add(key.symbol, bar_kind(key), BAR_SCHEMA, bar.time,
                      (bar.time, bar.open, bar.high, bar.low, bar.close, bar.volume,
                       live))  # fmt: skip
        except Exception as e:
            self._fail(e)

    def rt_bar(self, key: StreamKey, rtb: Any) -> None:
        """An ib_insync RealTimeBar as IB sent it."""
        try:
            t = rtb.time if rtb.time.tzinfo else rtb.time.replace(tzinfo=UTC)
            kind = f"rt-{live_what_to_show(key.what_to_show).upper()}"
            self._add(key.symbol, kind, RT_SCHEMA, t, (t, rtb.open_, rtb.high, rtb.low,
                      rtb.close, float(rtb.volume), float(rtb.wap), int(rtb.count)))  # fmt: skip
        except Exception as e:
            self._fail(e)

    def tick(self, tick: Tick) -> None:
        try:
            kind = tick_kind(self.tick_by_tick.get(tick.symbol))
            self._add(tick.symbol, kind, TICK_SCHEMA, tick.time,
                      (tick.time, tick.bid, tick.ask, tick.last, tick.bid_size, tick.ask_size,
                       tick.last_size, tick.midpoint))  # fmt: skip
        except Exception as e:
            self._fail(e)

    def _add(self, symbol: str, kind: str, schema: pa.Schema, t: datetime,
             row: tuple[Any, ...]) -> None:  # fmt: skip
        if self.failed or self._closing:
            return
        d = t.date() if t.tzinfo is UTC else t.astimezone(UTC).date()
        day = self._days.get(d)
        if day is None:
            day = self._days[d] = d.isoformat()
        slot = (symbol, kind, day)
        if kind not in self._schemas:
            self._schemas[kind] = schema
        with self._lock:
            rows = self._buffers.get(slot)
            if rows is None:
                rows = self._buffers[slot] = []
            rows.append(row)
            self._pending += 1
            full = self._pending >= self.batch_rows
        if full:
            self._wake.set()

    # ---- the writer -----------------------------------------------------------------------

    def close(self) -> None:
        """Write what is buffered and stop (a clean shutdown); idempotent."""
        if self._closing:
            return
        self._closing = True
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join()
        if not self.failed:
            log.info("recorded %d rows in %d files to %s", self.rows_written,
                     self.files_written, self.folder)  # fmt: skip

    def _loop(self) -> None:
        while not self.failed:
            self._wake.wait(self.flush_s)
            self._wake.clear()
            closing = self._closing  # read before the flush: nothing is added once set
            self.flush(compact_all=closing)
            if closing:
                return

    def flush(self, *, compact_all: bool = False) -> None:
        """Write the buffers now, then merge this session's parts of each folder that has
        ``COMPACT_AT`` of them (``compact_all``: of every folder; the thread calls it)."""
        with self._lock:
            buffers, self._buffers, self._pending = self._buffers, {}, 0
        try:
            for slot, rows in buffers.items():
                self._write(slot, rows)
            for folder, parts in self._parts.items():
                if len(parts) >= (2 if compact_all else COMPACT_AT):
                    self._compact(folder, parts)
        except Exception as e:  # a full or failing disk, a bad path: never the daemon's problem
            self._fail(e)

    def _write(self, slot: _Slot, rows: list[tuple[Any, ...]]) -> None:
        symbol, kind, day = slot
        schema = self._schemas[kind]
        columns = list(zip(*rows, strict=True))
        table = pa.Table.from_arrays(
            [pa.array(c, type=f.type) for c, f in zip(columns, schema, strict=True)],
            schema=schema,
        )
        folder = self.folder / symbol / kind / day
        folder.mkdir(parents=True, exist_ok=True)
        self._seq += 1
        path = folder / part_name(self._token, self._seq)
        _write_atomically(table, path)
        self._parts.setdefault(folder, []).append(path)
        self.rows_written += len(rows)
        self.files_written += 1

    def _compact(self, folder: Path, parts: list[Path]) -> None:
        """This session's parts of ``folder`` as one file, named to cover them (bot/research/data/
        recording.py skips what a merged file covers, so a crash midway duplicates nothing)."""
        table = pa.concat_tables([pq.read_table(p) for p in parts])
        merged = folder / part_name(self._token, self._seq_of(parts[-1]), merged=True)
        _write_atomically(table, merged)
        for p in parts:
            if p != merged:
                p.unlink()
        parts[:] = [merged]

    @staticmethod
    def _seq_of(path: Path) -> int:
        return int(path.stem.rsplit("-", 1)[1].rstrip("m"))

    def _fail(self, e: Exception) -> None:
        if self.failed:
            return
        self.failed = True
        with self._lock:
            self._buffers, self._pending = {}, 0
        log.error("recording to %s stopped: %s (trading goes on; nothing more is recorded)",
                  self.folder, e or type(e).__name__)  # fmt: skip


def part_name(token: str, seq: int, *, merged: bool = False) -> str:
    """``<session>-<seq>.parquet``; a merged file covering a session's parts up to ``seq``:
    ``<session>-<seq>m.parquet``, which sorts right after that part and before the next."""
    return f"{token}-{seq:06d}{'m' if merged else ''}.parquet"


def _write_atomically(table: pa.Table, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    try:
        write_table(table, tmp)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)  # no half-written file left behind
        raise


def write_table(table: pa.Table, path: Path) -> None:
    """One file (a seam: tests make the disk fail here)."""
    pq.write_table(table, path)


def open_recorder(record: Any) -> Recorder | None:
    """The config's ``record:`` block (bot.config.record.RecordConfig) as a running recorder."""
    if record is None:
        return None
    return Recorder.open(record.dir, flush_s=record.flush_s, batch_rows=record.batch_rows)

