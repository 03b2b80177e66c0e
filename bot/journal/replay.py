"""Replaying the write-ahead lines a killed process left into its journal (bot/journal/
write_ahead.py): the one place that folds them outside a running journal's own batch."""

from __future__ import annotations

import logging
import sqlite3
from pathlib import Path

from bot.journal.schema import ORDER_COLUMNS, REPLAY_ORDER
from bot.journal.write_ahead import ahead_path, read_rows

log = logging.getLogger(__name__)


def replay_write_ahead(path: Path) -> None:
    """Commit to the journal at ``path`` the write-ahead lines a killed process left. The file
    stays: only a journal that appends to it truncates it, after its own fold (a running
    daemon may be appending now). Nothing is written when there are none."""
    rows = read_rows(ahead_path(path), ORDER_COLUMNS)
    if not rows:
        return
    db = sqlite3.connect(path, isolation_level=None, timeout=10.0)
    try:
        db.execute("BEGIN")
        db.executemany(REPLAY_ORDER, rows)
        db.execute("COMMIT")
    finally:
        db.close()  # uncommitted: rolled back
    log.info("%s: %d write-ahead order rows replayed", path, len(rows))
