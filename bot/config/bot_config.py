"""The whole config: every section's model under its key."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from bot.config.base import ConfigModel
from bot.config.executor import ExecutorConfig
from bot.config.fields import interval, interval_seconds
from bot.config.gateway import GatewaySettings
from bot.config.ib import IBConfig
from bot.config.journal import JournalConfig
from bot.config.logs import LoggingConfig
from bot.config.ops import ControlConfig, MetricsConfig, NotifyConfig
from bot.config.record import RecordConfig
from bot.config.risk import RiskConfig
from bot.config.strategies import StrategyConfig
from bot.config.universe import UniverseConfig


class BotConfig(ConfigModel):
    ib: IBConfig = IBConfig()
    mode: Literal["paper", "live"] = "paper"
    dry_run: bool = False
    gateway: GatewaySettings | None = None
    universe: UniverseConfig
    strategies: list[StrategyConfig] = Field(min_length=1)
    risk: RiskConfig = RiskConfig()
    executor: ExecutorConfig = ExecutorConfig()
    journal: JournalConfig = JournalConfig()
    logging: LoggingConfig = LoggingConfig()
    metrics: MetricsConfig | None = None  # bot/ops: /metrics, /health, the status page
    control: ControlConfig | None = None
    notify: NotifyConfig | None = None
    status_interval: str | float = "5m"  # seconds, or "30s" / "5m" / "1h"
    record: RecordConfig | None = None  # bot/market_data/recorder.py

    @model_validator(mode="before")
    @classmethod
    def _journal_default(cls, data: Any) -> Any:
        # Validate the default journal too, so its path is resolved like a written one.
        if isinstance(data, dict) and "journal" not in data:
            data = {**data, "journal": {}}
        return data

    _status_interval = field_validator("status_interval", mode="before")(
        classmethod(lambda cls, v: interval(v))
    )

    @property
    def status_interval_s(self) -> float:
        return interval_seconds(self.status_interval)
