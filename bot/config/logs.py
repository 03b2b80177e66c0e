"""``logging:``: level, format and an optional rotated file."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from bot.config.base import ConfigModel
from bot.config.fields import resolve_path


class LoggingConfig(ConfigModel):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    format: Literal["console", "json"] = "console"
    file: Path | None = None  # also log there, rotated (besides stderr)
    max_bytes: int = Field(default=10_000_000, gt=0)
    backups: int = Field(default=5, ge=0)

    @field_validator("file")
    @classmethod
    def _log_where(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return None if v is None else resolve_path(v, info, must_exist=False)

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v
