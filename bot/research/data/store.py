"""The Parquet bar store: ``<store>/<SYMBOL>/<bar>.parquet`` (``AAPL/1min.parquet``,
``AAPL/1day.parquet``), one file per symbol and bar size, rows in time order, one row per bar
start. ``gateway.data: data/store`` replays it (bot/sim/datafile.py ``find_file``).

Files hold ``time`` (UTC, the bar's start; a daily bar starts at its session's open) and
``open``, ``high``, ``low``, ``close``, ``volume``. Writers only ever merge (``merge_bars``): an
import or a download adds its bars to what the file holds, a bar already stored is replaced by
the newer copy (a re-fetched last bar that was still in progress), nothing is duplicated and
the file is replaced atomically, so an interrupted writer leaves the previous file whole.
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq

from bot.sim.datafile import COLUMNS, SourceBars, bar_name, named_bar_seconds

DEFAULT_STORE = Path("data/store")


@dataclass(frozen=True, slots=True)
class Merged:
    path: Path
    added: int  # bars the file did not hold before
    replaced: int  # bars it held at the same times, now the new copies
    rows: int  # bars in the file now


@dataclass(frozen=True, slots=True)
class StoredFile:
    symbol: str
    bar_seconds: int
    path: Path
    rows: int
    first: pd.Timestamp | None
    last: pd.Timestamp | None


def store_path(store: Path, symbol: str, bar_seconds: int) -> Path:
    return store / symbol / f"{bar_name(bar_seconds)}.parquet"


def frame_of(bars: SourceBars) -> pd.DataFrame:
    """Checked bars (bot/sim/datafile.py) as a store frame."""
    return pd.DataFrame(
        {
            "time": pd.to_datetime(bars.time, unit="s", utc=True),
            "open": bars.open,
            "high": bars.high,
            "low": bars.low,
            "close": bars.close,
            "volume": bars.volume,
        }
    )


def read_store_file(path: Path, columns: list[str] | None = None) -> pd.DataFrame:
    """A store file, read through one open: pyarrow opening the path twice could meet two
    files when a writer replaces it in between."""
    with path.open("rb") as f:
        return pd.read_parquet(f, columns=columns)


def merge_bars(path: Path, new: pd.DataFrame) -> Merged:
    """Merge ``new`` (store columns, any order) into the file at ``path`` (created if absent):
    deduplicated by time, the new row winning, sorted by time."""
    missing = [c for c in COLUMNS if c not in new.columns]
    if missing:
        raise ValueError(f"bars to store lack column(s) {', '.join(missing)}")
    new = new[list(COLUMNS)].copy()
    new["time"] = pd.to_datetime(new["time"], utc=True)
    new = new.drop_duplicates("time", keep="last")
    old = read_store_file(path) if path.exists() else new.iloc[:0]
    both = pd.concat([old, new], ignore_index=True)
    merged = both.drop_duplicates("time", keep="last").sort_values("time", ignore_index=True)
    replaced = int(new["time"].isin(old["time"]).sum())
    path.parent.mkdir(parents=True, exist_ok=True)
    # A name of this writer's own: two writers sharing one would replace the file with the
    # other's half-written copy.
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        merged.to_parquet(tmp, index=False)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    return Merged(path, len(merged) - len(old), replaced, len(merged))


def list_store(store: Path) -> list[StoredFile]:
    """Every bar file of the store, by symbol then bar size."""
    out = []
    for path in sorted(store.glob("*/*.parquet")):
        seconds = named_bar_seconds(path)
        if seconds is None:
            continue
        times = pq.read_table(path, columns=["time"]).column("time").to_pandas()
        first = pd.Timestamp(times.iloc[0]) if len(times) else None
        last = pd.Timestamp(times.iloc[-1]) if len(times) else None
        out.append(StoredFile(path.parent.name, seconds, path, len(times), first, last))
    out.sort(key=lambda f: (f.symbol, f.bar_seconds))
    return out
