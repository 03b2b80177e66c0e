"""``journal:``: where the SQLite journal is kept."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, ValidationInfo, field_validator

from bot.config.base import ConfigModel
from bot.config.fields import resolve_path


class JournalConfig(ConfigModel):
    path: Path = Field(default=Path("runs/journal.sqlite"), validate_default=True)

    @field_validator("path")
    @classmethod
    def _where(cls, v: Path, info: ValidationInfo) -> Path:
        return resolve_path(v, info, must_exist=False)
