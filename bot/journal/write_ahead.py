"""The journal's write-ahead file: an order's row, appended before the order is sent.

One line of JSON per order (per bracket leg), written with one ``os.write`` to a file opened
``O_APPEND`` beside the journal (``journal.sqlite`` -> ``journal.sqlite-ahead``). The write lands
in the OS page cache, which outlives the process: a SIGKILL right after it loses nothing. There
is no fsync (an order waits for this write): a power cut or OS crash may lose the last lines, as
it may lose the last commits of SQLite in WAL mode with ``synchronous=NORMAL``.

The journal folds the same rows into SQLite with its buffered batch (``Journal.flush``); once
the file has grown past ``KEEP_BYTES`` of folded lines, it is emptied. Not at every fold: appends
to a file just emptied allocate its blocks anew, which cost the order path 10-15 µs at the
median and more at p99 (bench/latency_bench.py). Every journal open replays the lines left by a
process that died (``read_rows``); lines already folded are in SQLite already and change
nothing there. A line cut short by a kill in the middle of its write is skipped with a
warning: its order was never sent, since sending waits for the whole line.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

log = logging.getLogger(__name__)

_ENCODE: Final = json.JSONEncoder(separators=(",", ":")).encode
KEEP_BYTES = 1 << 20  # folded lines kept before the file is emptied (about 4,000 orders)


def ahead_path(journal: Path) -> Path:
    """Where a journal's write-ahead file lives: beside it, as SQLite's ``-wal`` does."""
    return journal.with_name(f"{journal.name}-ahead")


class WriteAheadFile:
    """Appends rows; the file is opened on the first append, so a journal that never sends an
    order (a tool, a reader) never creates or truncates it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._fd: int | None = None
        self._size = 0  # bytes in the file
        self.unfolded = 0  # lines appended since the last fold

    def append(self, row: Sequence[Any]) -> None:
        """One row (JSON scalars only) as one line; OSError naming the file if it cannot be."""
        data = (_ENCODE(row) + "\n").encode()
        try:
            if self._fd is None:
                self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
                self._size = os.fstat(self._fd).st_size  # lines an earlier run left: replayed
            self._size += len(data)
            while data:  # a regular file writes it all unless the disk is full
                data = data[os.write(self._fd, data) :]
        except OSError as e:
            raise OSError(e.errno, e.strerror, str(self.path)) from None
        self.unfolded += 1

    def folded(self) -> None:
        """Every line appended so far is committed in SQLite; past ``KEEP_BYTES`` the file is
        emptied (module doc)."""
        if self._fd is not None and self.unfolded:
            self.unfolded = 0
            if self._size >= KEEP_BYTES:
                os.ftruncate(self._fd, 0)
                self._size = 0

    def close(self) -> None:
        """Close, removing the file if it is empty (everything in it was folded)."""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
            if not self.unfolded:
                self.path.unlink(missing_ok=True)


def read_rows(path: Path, width: int) -> list[list[Any]]:
    """The rows of a write-ahead file (none if there is none), each of ``width`` values; a torn
    or unreadable line is skipped with a warning."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        return []
    *lines, tail = data.split(b"\n")
    if tail:
        log.warning("%s: its last line was cut short (a kill while it was written), "
                    "skipped: its order was never sent", path)  # fmt: skip
    rows = []
    for n, line in enumerate(lines, 1):
        try:
            row = json.loads(line)
        except ValueError:
            row = None
        if isinstance(row, list) and len(row) == width:
            rows.append(row)
        else:
            log.warning("%s: line %d is not an order row, skipped: %.80r", path, n, line)
    return rows
