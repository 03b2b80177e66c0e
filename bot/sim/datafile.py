"""Reading one symbol's source bars (CSV, CSV.GZ or Parquet) into checked numpy arrays.

Columns: time (UTC ISO 8601; naive means UTC; the bar's start, as IB dates bars), open, high,
low, close, volume. Any bar size that is a multiple of 5 seconds; the file's bar size is the
smallest step between consecutive rows. Every error names the file, the row and the column.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bot.sim.bridge import I64, F

COLUMNS = ("time", "open", "high", "low", "close", "volume")
SUFFIXES = (".csv.gz", ".csv", ".parquet")
DEFAULT_BAR_SECONDS = 60  # a one-row file gives no step to infer it from


Where = Callable[[int, str], str]  # (row, column) -> "file: row r (line l), column 'c'"


class DataFileError(ValueError):
    """A bad market data file; the message names the file, row and column."""


@dataclass(frozen=True, slots=True)
class SourceBars:
    """Validated bars of one symbol: ``time`` in epoch seconds (bar start)."""

    path: Path
    bar_seconds: int
    time: I64
    open: F
    high: F
    low: F
    close: F
    volume: F


def find_file(data_dir: Path, name: str) -> Path | None:
    for suffix in SUFFIXES:
        path = data_dir / f"{name}{suffix}"
        if path.exists():
            return path
    return None


def read_bars(path: Path) -> SourceBars:
    try:
        if path.name.endswith(".parquet"):
            frame = pd.read_parquet(path)
            where = _rows(path, header=False)
        else:
            frame = pd.read_csv(path, dtype={"time": str}, skipinitialspace=True)
            where = _rows(path, header=True)
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise DataFileError(f"{path}: cannot read: {e}") from e
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    missing = [c for c in COLUMNS if c not in frame.columns]
    if missing:
        have = ", ".join(frame.columns)
        raise DataFileError(f"{path}: missing column {missing[0]!r} (columns: {have})")
    if frame.empty:
        raise DataFileError(f"{path}: no rows")
    times = _times(frame["time"], where)
    values = {c: _numbers(frame[c], c, where) for c in COLUMNS[1:]}
    _check_bars(times, values, where)
    return SourceBars(
        path=path,
        bar_seconds=_bar_seconds(times),
        time=times,
        open=values["open"],
        high=values["high"],
        low=values["low"],
        close=values["close"],
        volume=values["volume"],
    )


def _rows(path: Path, header: bool) -> Where:
    def where(row: int, column: str) -> str:
        line = f" (line {row + 2})" if header else ""
        return f"{path}: row {row + 1}{line}, column {column!r}"

    return where


def _first_bad(mask: np.ndarray) -> int | None:
    bad = np.flatnonzero(mask)
    return int(bad[0]) if len(bad) else None


def _times(col: pd.Series, where: Where) -> I64:
    if pd.api.types.is_datetime64_any_dtype(col):
        parsed = pd.to_datetime(col, utc=True)
    else:
        text = col.astype(str).str.strip()
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
    row = _first_bad(parsed.isna().to_numpy())
    if row is not None:
        raise DataFileError(f"{where(row, 'time')}: not an ISO 8601 time: {col.iloc[row]!r}")
    ns = parsed.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    row = _first_bad(ns % 5_000_000_000 != 0)
    if row is not None:
        raise DataFileError(f"{where(row, 'time')}: not on a 5-second boundary")
    times: I64 = ns // 1_000_000_000
    row = _first_bad(np.diff(times) <= 0)
    if row is not None:
        raise DataFileError(f"{where(row + 1, 'time')}: not after the previous row's time")
    return times


def _numbers(col: pd.Series, name: str, where: Where) -> F:
    if not pd.api.types.is_numeric_dtype(col):  # the slow path only when something is off
        col = col.astype(object).where(col.notna(), "")
        values = pd.to_numeric(col, errors="coerce").to_numpy(dtype=np.float64)
    else:
        values = col.to_numpy(dtype=np.float64)
    row = _first_bad(~np.isfinite(values))
    if row is not None:
        raise DataFileError(f"{where(row, name)}: not a number: {col.iloc[row]!r}")
    return values


def _check_bars(times: I64, v: dict[str, F], where: Where) -> None:
    eps = 1e-9 * np.maximum(1.0, np.abs(v["high"]))
    checks = [
        ("open", v["open"] <= 0, "price must be > 0"),
        ("close", v["close"] <= 0, "price must be > 0"),
        ("low", v["low"] <= 0, "price must be > 0"),
        ("high", v["high"] + eps < np.maximum(v["open"], v["close"]), "below open or close"),
        ("low", v["low"] > np.minimum(v["open"], v["close"]) + eps, "above open or close"),
        ("volume", v["volume"] < 0, "volume must be >= 0"),
    ]
    for column, bad, text in checks:
        row = _first_bad(bad)
        if row is not None:
            raise DataFileError(f"{where(row, column)}: {text} ({v[column][row]!r})")


def _bar_seconds(times: I64) -> int:
    if len(times) < 2:
        return DEFAULT_BAR_SECONDS
    return int(np.diff(times).min())
