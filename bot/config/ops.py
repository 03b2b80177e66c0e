"""The run config's operations sections: ``metrics``, ``control`` and ``notify`` (each off when
absent). Secrets are never in the file: the config names the environment variable holding them."""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, field_validator

from bot.config.fields import HHMM

_ENV = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _env_name(v: str) -> str:
    if not _ENV.fullmatch(v):
        raise ValueError(f"bad environment variable name {v!r} (the name, not the secret)")
    return v


EnvName = Annotated[str, AfterValidator(_env_name)]


class MetricsConfig(_Model):
    """The HTTP endpoint: /metrics, /health, /status (page), /api/status, /control/*."""

    host: str = "127.0.0.1"
    port: int = Field(default=9108, ge=0, le=65535)  # 0: any free port (tests)
    log_lines: int = Field(default=50, ge=0, le=1000)  # last log lines on the status page


class ControlConfig(_Model):
    """The control channel (POST /control/<command> beside /metrics, loopback only)."""

    token_env: EnvName = "IBBOT_CONTROL_TOKEN"


class WebhookConfig(_Model):
    url: str
    timeout: float = Field(default=5.0, gt=0)


class TelegramConfig(_Model):
    token_env: EnvName = "IBBOT_TELEGRAM_TOKEN"
    chat_id: str
    base_url: str = "https://api.telegram.org"  # a local receiver in tests
    timeout: float = Field(default=5.0, gt=0)


class NotifyConfig(_Model):
    webhook: WebhookConfig | None = None
    telegram: TelegramConfig | None = None
    events: tuple[Literal["fill", "risk", "rejections", "disconnect", "daily"], ...] = (
        "fill", "risk", "rejections", "disconnect", "daily",
    )  # fmt: skip
    rejections_per_minute: int = Field(default=5, ge=1)  # a notice when reached in a minute
    disconnect_after_s: float = Field(default=60.0, ge=0)
    daily_summary_at: str = "21:30"  # UTC, HH:MM
    queue_size: int = Field(default=100, ge=1)

    @field_validator("daily_summary_at")
    @classmethod
    def _hh_mm(cls, v: str) -> str:
        if not HHMM.fullmatch(v):
            raise ValueError(f"bad time {v!r}: write HH:MM (UTC), e.g. 21:30")
        return v
