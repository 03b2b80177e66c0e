"""``ib:``: the connection to IB (or the simulated gateway), reconnects, maintenance, watchdog."""

from __future__ import annotations

from datetime import time
from typing import Any

from pydantic import Field, field_validator, model_validator

from bot.client.library import Library
from bot.config.base import ConfigModel
from bot.config.fields import hh_mm, known_zone, time_of


class ReconnectConfig(ConfigModel):
    """Backoff between reconnect attempts: ``initial`` seconds, doubling up to ``max``, each
    moved by up to ``jitter`` of itself (``seed``: a fixed jitter sequence, for tests)."""

    initial: float = Field(default=0.5, gt=0)
    max: float = Field(default=30.0, gt=0)
    jitter: float = Field(default=0.2, ge=0, le=1)
    seed: int | None = None

    @model_validator(mode="after")
    def _ordered(self) -> ReconnectConfig:
        if self.max < self.initial:
            raise ValueError(f"max {self.max:g} is below initial {self.initial:g}")
        return self


class MaintenanceConfig(ConfigModel):
    """IB Gateway's daily restart: entries pause and the disconnect is expected."""

    start: str
    end: str
    timezone: str = "America/New_York"

    _hh_mm = field_validator("start", "end", mode="before")(classmethod(lambda cls, v: hh_mm(v)))
    _known_zone = field_validator("timezone")(classmethod(lambda cls, v: known_zone(v)))

    @model_validator(mode="after")
    def _not_empty(self) -> MaintenanceConfig:
        if self.start == self.end:
            raise ValueError(f"start and end are both {self.start}: the window would be empty")
        return self

    @property
    def start_time(self) -> time:
        return time_of(self.start)

    @property
    def end_time(self) -> time:
        return time_of(self.end)


class WatchdogConfig(ConfigModel):
    """Staleness watchdog: a bar stream silent for ``stale_bars`` bar intervals in liquid
    hours is resubscribed; ``pause_after`` resubscriptions in a row pause its entries."""

    stale_bars: float = Field(default=2.0, ge=1)
    pause_after: int = Field(default=3, ge=1)
    poll: float = Field(default=5.0, gt=0)  # wall seconds between checks


class IBConfig(ConfigModel):
    host: str = "127.0.0.1"
    port: int = Field(default=4002, ge=1, le=65535)
    client_id: int = Field(default=1, ge=0)
    # Error 326 (client id in use): try client_id+1 ... up to this many ids in all.
    client_id_tries: int = Field(default=1, ge=1, le=32)
    # Market-data lines of the account (IB: 100 unless bought more): every bar stream
    # (reqRealTimeBars or keepUpToDate history) and tick subscription takes one
    # (bot/market_data/data_lines.py); the feed refuses to go past them.
    max_data_lines: int = Field(default=100, ge=1)
    # IB's historical-data pacing (bot/market_data/history_pacing.py) on a clock this many times as
    # fast:
    # for a simulated gateway replaying faster than real time with its rules scaled alike
    # (benches; 0.01: 60 requests in 6 s). IB's own rules cannot be scaled: leave it at 1.
    history_pacing_scale: float = Field(default=1.0, gt=0, le=1)
    account: str | None = None  # None: the first managed account
    connect_timeout: float = Field(default=10, gt=0)
    readonly: bool = False
    # The client library (bot/client/library.py); unset: $IBBOT_IB_LIBRARY, else ib_insync.
    library: Library | None = None
    reconnect: ReconnectConfig = ReconnectConfig()
    maintenance: MaintenanceConfig | None = None
    watchdog: WatchdogConfig = WatchdogConfig()

    @field_validator("account", mode="before")
    @classmethod
    def _blank_is_none(cls, v: Any) -> Any:
        # `account: ${IB_ACCOUNT:-}` means "whatever IB reports first" when the variable is unset.
        return None if isinstance(v, str) and not v.strip() else v
