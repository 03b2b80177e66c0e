"""``record:``: store the bars and ticks the daemon receives."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from bot.config.base import ConfigModel
from bot.config.fields import interval, interval_seconds, resolve_path


class RecordConfig(ConfigModel):
    """``record:``: store the bars and ticks the daemon receives (bot/market_data/recorder.py)."""

    dir: Path
    flush: str | float = "5s"  # seconds between writes: what a crash may lose at most
    batch_rows: int = Field(default=10_000, gt=0)  # or sooner, once this many rows wait

    @field_validator("dir")
    @classmethod
    def _folder(cls, v: Path, info: ValidationInfo) -> Path:
        path = resolve_path(v, info, must_exist=False)
        if path.exists() and not path.is_dir():
            raise ValueError(f"{str(v)!r} is a file, not a folder to record into")
        return path

    _flush = field_validator("flush", mode="before")(classmethod(lambda cls, v: interval(v)))

    @property
    def flush_s(self) -> float:
        return interval_seconds(self.flush)
