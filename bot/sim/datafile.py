"""Reading one symbol's source bars (CSV, CSV.GZ or Parquet) into checked numpy arrays.

Columns, named in any case: time (or ``date``, ``datetime``, ``timestamp``; or separate
``date`` and ``time`` columns), open, high, low, close, volume; others (``Adj Close``,
``OpenInterest`` ...) are ignored, so Yahoo-style and backtrader CSVs load as they are.
Prices are taken as written: ``Close``, not ``Adj Close``.

Times are UTC ISO 8601 (naive means UTC), the bar's start as IB dates bars. The bar size is
the smallest step between consecutive rows (a one-row file: one minute); any multiple of 5
seconds up to a day: 1-minute, 5-minute, 15-minute, hourly, daily ...

Daily files: rows a day or more apart, or rows that give the date alone (``2014-08-21`` or
``20140821``, as Yahoo, backtrader and IB write daily bars). Each row is the bar of one
exchange date: the written date (a date alone, or 00:00 naive or UTC), else the date of its
time in the instrument's time zone.
Its time becomes that date's regular-session open (liquidHours) in the instrument's zone,
daylight saving included (13:30 UTC in summer, 14:30 in winter for New York), so its ticks run
over that session and its close prints at the session's close (bot/sim/market.py).

Naive times are UTC unless the reader is given a time zone (``ibbot data import --tz``): then
naive times are that zone's wall clock; times written with an offset keep it.

Two layouts of a data folder (``find_file``): flat, one file per symbol (``AAPL.csv.gz``), or
the Parquet store of ``ibbot data import`` (bot/research/data/store.py), one folder per symbol with
one file per bar size (``AAPL/1min.parquet``, ``AAPL/1day.parquet``); a store file's name gives its
bar size, and per symbol the finest is read unless a bar size is asked for. A third, a session
recorded by ``ibbot run --record`` (bot/sim/recording.py), is read through ``frame_bars``.

Every error names the file, the row (and the line of a CSV) and the column.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd

from bot.model.bar_sizes import DAY
from bot.sim.bridge import I64, F
from bot.sim.instruments import Instrument

COLUMNS = ("time", "open", "high", "low", "close", "volume")
SUFFIXES = (".csv.gz", ".csv", ".parquet")
DEFAULT_BAR_SECONDS = 60  # a one-row file gives no step to infer it from
#: Other spellings of each column (after lower-casing and trimming).
ALIASES = {
    "time": ("datetime", "timestamp", "date"),
    "open": ("o",),
    "high": ("h",),
    "low": ("l",),
    "close": ("c", "last"),
    "volume": ("vol", "v"),
}
_TIME_NAMES = frozenset(("time", *ALIASES["time"]))
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_DATE_ONLY = re.compile(r"\d{4}-?\d{2}-?\d{2}")
_TIME_OF_DAY = re.compile(r"\d{1,2}:\d{2}(:\d{2})?")
_OFFSET = re.compile(r"(?:Z|[+-]\d{2}(?::?\d{2})?)$", re.IGNORECASE)
_BAR_NAME = re.compile(r"(\d+)(s|min|h|day)")
_UNIT_SECONDS = {"s": 1, "min": 60, "h": 3600, "day": DAY}


Where = Callable[[int, str], str]  # (row, column) -> "file: row r (line l), column 'c'"


class DataFileError(ValueError):
    """A bad market data file; the message names the file, row and column."""


@dataclass(frozen=True, slots=True)
class SourceBars:
    """Validated bars of one symbol: ``time`` in epoch seconds (bar start). ``daily``: one bar
    per exchange date, starting at its regular-session open (``bar_seconds`` is then a day)."""

    path: Path
    bar_seconds: int
    time: I64
    open: F
    high: F
    low: F
    close: F
    volume: F
    daily: bool = False


def bar_name(bar_seconds: int) -> str:
    """A store file's stem for a bar size: 5s, 1min, 15min, 1h, 1day."""
    for unit, size in sorted(_UNIT_SECONDS.items(), key=lambda kv: -kv[1]):
        if bar_seconds % size == 0:
            return f"{bar_seconds // size}{unit}"
    raise ValueError(f"bar size {bar_seconds} s is not a whole number of seconds")


def named_bar_seconds(path: Path) -> int | None:
    """The bar size a store file's name gives (``1min.parquet`` -> 60); None for other names."""
    if not path.name.endswith(".parquet"):
        return None
    return bar_name_seconds(path.name.removesuffix(".parquet"))


def bar_name_seconds(name: str) -> int | None:
    """``bar_name`` undone: ``1min`` -> 60; None for other names."""
    m = _BAR_NAME.fullmatch(name)
    return None if m is None else int(m[1]) * _UNIT_SECONDS[m[2]]


def store_files(folder: Path) -> dict[int, Path]:
    """A store symbol folder's files by bar size, finest first."""
    found = {b: p for p in folder.glob("*.parquet") if (b := named_bar_seconds(p)) is not None}
    return dict(sorted(found.items()))


def find_file(data_dir: Path, name: str, bar_seconds: int | None = None) -> Path | None:
    """``name``'s file in a flat folder, else in the store layout: the ``bar_seconds`` file
    (an error if the symbol has others but not that one), else the finest."""
    for suffix in SUFFIXES:
        path = data_dir / f"{name}{suffix}"
        if path.exists():
            return path
    files = store_files(data_dir / name)
    if not files:
        return None
    if bar_seconds is None:
        return next(iter(files.values()))
    if bar_seconds not in files:
        have = ", ".join(p.name for p in files.values())
        raise DataFileError(f"{data_dir / name}: no {bar_name(bar_seconds)}.parquet (has {have})")
    return files[bar_seconds]


def read_bars(path: Path, inst: Instrument, tz: str | None = None) -> SourceBars:
    """``inst``'s bars from ``path``; its time zone and sessions place daily bars; naive times
    are in ``tz`` (default UTC)."""
    frame, where = _read_frame(path)
    return _checked_bars(frame, where, path, inst, tz, named_bar_seconds(path))


def frame_bars(frame: pd.DataFrame, path: Path, inst: Instrument, bar_seconds: int) -> SourceBars:
    """``inst``'s bars of ``bar_seconds`` from a frame of the store's columns (a recording,
    bot/sim/recording.py), checked as a file's; errors name ``path`` and the frame's row."""
    return _checked_bars(frame, _rows(path, header=False), path, inst, None, bar_seconds)


def _checked_bars(
    frame: pd.DataFrame, where: Where, path: Path, inst: Instrument, tz: str | None,
    named: int | None,
) -> SourceBars:  # fmt: skip
    if frame.empty:
        raise DataFileError(f"{path}: no rows")
    times, dated = _times(frame["time"], where, tz)
    values = {c: _numbers(frame[c], c, where) for c in COLUMNS[1:]}
    _check_bars(values, where)
    daily = dated or (named or 0) >= DAY or (len(times) > 1 and int(np.diff(times).min()) >= DAY)
    if daily:
        times = _session_opens(times, inst, where)
    return SourceBars(
        path=path,
        bar_seconds=DAY if daily else named or _bar_seconds(times),
        time=times,
        open=values["open"],
        high=values["high"],
        low=values["low"],
        close=values["close"],
        volume=values["volume"],
        daily=daily,
    )


def _read_frame(path: Path) -> tuple[pd.DataFrame, Where]:
    """The file as a frame with the canonical column names; a missing column is an error."""
    try:
        if path.name.endswith(".parquet"):
            frame = pd.read_parquet(path)
            if not isinstance(frame.index, pd.RangeIndex):  # e.g. a saved DatetimeIndex
                frame = frame.reset_index()
            where = _rows(path, header=False)
        else:
            header = pd.read_csv(path, nrows=0, skipinitialspace=True).columns
            texts = {c: str for c in header if str(c).strip().lower() in _TIME_NAMES}
            frame = pd.read_csv(path, dtype=texts, skipinitialspace=True)
            where = _rows(path, header=True)
    except (OSError, ValueError, pd.errors.ParserError) as e:
        raise DataFileError(f"{path}: cannot read: {e}") from e
    frame.columns = [str(c).strip().lower() for c in frame.columns]
    if {"date", "time"} <= set(frame.columns):  # "Date,Time,Open,...": a time of day apart
        clock = frame["time"].astype(str).str.strip()
        if clock.str.fullmatch(_TIME_OF_DAY).all():
            frame["time"] = frame["date"].astype(str).str.strip() + " " + clock
    renames: dict[str, str] = {}
    for name, others in ALIASES.items():
        have = [c for c in (name, *others) if c in frame.columns]
        if not have:
            spelt = " / ".join((name, *others))
            columns = ", ".join(frame.columns)
            raise DataFileError(f"{path}: missing column {name!r} ({spelt}; columns: {columns})")
        renames[have[0]] = name
    return frame[list(renames)].rename(columns=renames), where


def _rows(path: Path, header: bool) -> Where:
    def where(row: int, column: str) -> str:
        line = f" (line {row + 2})" if header else ""
        return f"{path}: row {row + 1}{line}, column {column!r}"

    return where


def _first_bad(mask: np.ndarray) -> int | None:
    bad = np.flatnonzero(mask)
    return int(bad[0]) if len(bad) else None


def _times(col: pd.Series, where: Where, tz: str | None = None) -> tuple[I64, bool]:
    """Epoch seconds of each row, and whether the rows give dates alone."""
    if pd.api.types.is_datetime64_any_dtype(col):
        parsed = pd.to_datetime(col, utc=True)
        dated = False
    else:
        text = col.astype(str).str.strip()
        parsed = pd.to_datetime(text, utc=True, format="ISO8601", errors="coerce")
        dated = bool(text.str.fullmatch(_DATE_ONLY).all())
    row = _first_bad(parsed.isna().to_numpy())
    if row is not None:
        raise DataFileError(f"{where(row, 'time')}: not an ISO 8601 time: {col.iloc[row]!r}")
    if tz is not None and not dated:
        parsed = _in_zone(parsed, ~col.astype(str).str.strip().str.contains(_OFFSET), tz, where)
    ns = parsed.dt.tz_convert(None).to_numpy(dtype="datetime64[ns]").astype(np.int64)
    row = _first_bad(ns % 5_000_000_000 != 0)
    if row is not None:
        raise DataFileError(f"{where(row, 'time')}: not on a 5-second boundary")
    times: I64 = ns // 1_000_000_000
    row = _first_bad(np.diff(times) <= 0)
    if row is not None:
        raise DataFileError(f"{where(row + 1, 'time')}: not after the previous row's time")
    return times, dated


def _in_zone(parsed: pd.Series, naive: pd.Series, tz: str, where: Where) -> pd.Series:
    """``parsed`` (naive rows read as UTC) with its ``naive`` rows read as ``tz``'s clock."""
    wall = parsed[naive].dt.tz_localize(None)
    local = wall.dt.tz_localize(tz, ambiguous="NaT", nonexistent="NaT")
    row = _first_bad(local.isna().to_numpy())
    if row is not None:
        n = int(np.flatnonzero(naive.to_numpy())[row])
        raise DataFileError(
            f"{where(n, 'time')}: {wall.iloc[row]} does not exist or is ambiguous in {tz} "
            "(a daylight-saving change): write it with its UTC offset"
        )
    out = parsed.copy()
    out[naive] = local.dt.tz_convert("UTC")
    return out


def _session_opens(times: I64, inst: Instrument, where: Where) -> I64:
    """Daily rows: each row's exchange date -> that date's regular-session open (epoch s).
    A row at midnight UTC (a date alone, or a naive or UTC 00:00) stands for that date; any
    other time for its date in the instrument's zone."""
    local = pd.to_datetime(times, unit="s", utc=True).tz_convert(inst.time_zone_id)
    local_days = local.tz_localize(None).to_numpy(dtype="datetime64[D]").astype(np.int64)
    days = np.where(times % DAY == 0, times // DAY, local_days)
    row = _first_bad(np.diff(days) <= 0)
    if row is not None:
        raise DataFileError(f"{where(row + 1, 'time')}: same exchange date as the previous row")
    unique, inverse = np.unique(days, return_inverse=True)
    opens = []
    for n, d in enumerate(unique.tolist()):
        day = (_EPOCH + timedelta(days=d)).date()
        start = inst.session_open(day)
        if start is None:
            row = int(np.flatnonzero(inverse == n)[0])
            raise DataFileError(
                f"{where(row, 'time')}: {day} ({day:%A}) is not a trading day of "
                f"{inst.local_symbol} (regular hours {inst.liquid_hours})"
            )
        opens.append(int(start.timestamp()))
    result: I64 = np.array(opens, dtype=np.int64)[inverse]
    return result


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


def _check_bars(v: dict[str, F], where: Where) -> None:
    eps = 1e-9 * np.maximum(1.0, np.abs(v["high"]))
    checks = [
        ("high", v["high"] + eps < v["low"], "below the bar's low"),
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
            raise DataFileError(f"{where(row, column)}: {text} ({float(v[column][row])!r})")


def _bar_seconds(times: I64) -> int:
    if len(times) < 2:
        return DEFAULT_BAR_SECONDS
    return int(np.diff(times).min())
