"""Checks and conversions that several sections share: times of day, time zones, intervals,
paths.

Relative paths: an input path (``gateway.data``, ``gateway.instruments``) is taken relative to the
current directory if it exists there, else relative to the config file's directory; an output
path (the journal, the log file, ...) likewise by where its parent directory exists (the current
directory if neither). Loaded configs hold them absolute.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time
from pathlib import Path
from typing import Any

from pydantic import ValidationInfo

from bot.model.intervals import parse_interval

ID = re.compile(r"[A-Za-z0-9_.-]+")
HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")


def hh_mm(v: Any) -> Any:
    if isinstance(v, int) and not isinstance(v, bool):  # YAML 1.1 reads 9:35 as 575
        raise ValueError('write the time in quotes, e.g. "09:35"')
    if isinstance(v, str) and not HHMM.fullmatch(v.strip()):
        raise ValueError(f"bad time {v!r}; write exchange-local 'HH:MM', e.g. '09:35'")
    return v.strip() if isinstance(v, str) else v


def known_zone(v: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r}, e.g. America/New_York") from None
    return v


def interval(v: Any) -> Any:
    if isinstance(v, int | float) and not isinstance(v, bool) and v > 0:
        return float(v)
    if isinstance(v, str) and parse_interval(v) is not None:
        return v.strip()
    raise ValueError(f"bad interval {v!r}; write seconds (300) or e.g. '30s', '5m', '1h'")


def interval_seconds(v: str | float) -> float:
    """A checked interval (``interval``) in seconds."""
    if isinstance(v, float):
        return v
    seconds = parse_interval(v)
    assert seconds is not None  # checked when loaded
    return seconds


def time_of(hh_mm: str) -> time:
    hh, mm = hh_mm.split(":")
    return time(int(hh), int(mm))


def resolve_path(path: Path, info: ValidationInfo, *, must_exist: bool) -> Path:
    """Cwd first, then the config file's directory (see module docstring)."""
    base = (info.context or {}).get("config_dir")
    if base is None or path.is_absolute():
        if base is not None and must_exist and not path.exists():
            raise ValueError(f"not found: {str(path)!r}")
        return path
    cwd = Path.cwd()
    roots = list(dict.fromkeys((cwd, Path(base).absolute())))
    probe = (lambda p: p.exists()) if must_exist else (lambda p: p.parent.is_dir())
    for root in roots:
        if probe(root / path):
            return root / path
    if must_exist:
        looked = " and ".join(str(r) for r in roots)
        raise ValueError(f"not found: {str(path)!r} (looked in {looked})")
    return cwd / path


def utc(v: datetime) -> datetime:
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)
