"""``gateway:``: start the simulated gateway in-process."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from bot.config.bars import BarSpec
from bot.config.base import ConfigModel
from bot.config.fields import resolve_path, utc
from bot.model.bar_sizes import BAR_SIZES
from bot.sim.commission import Schedule


class EmbeddedGatewayConfig(ConfigModel):
    """Present in a config: start the simulated gateway in-process and connect to it."""

    data: Path = Field(default=Path("data/sample"), validate_default=True)
    instruments: Path = Field(default=Path("config/instruments.yaml"), validate_default=True)
    start: datetime | None = None  # None: the gateway chooses (naive times are UTC)
    speed: float = Field(
        default=600, ge=0
    )  # simulated seconds per wall second; 0 = as fast as possible
    seed: int = 1
    account: str = "DU1234567"
    cash: float = Field(default=1_000_000, gt=0)
    participation: float | None = Field(default=None, gt=0, le=1)
    slippage_ticks: float = Field(default=0, ge=0)  # market orders, against the order
    commission: Schedule = "ib_fixed"  # bot/sim/commission.py
    # Where marketable orders fill: "quote" (the ask for a buy, the bid for a sell, as at IB)
    # or "last" (the trade price, as bar-based backtesters such as backtrader fill).
    fill_at: Literal["quote", "last"] = "quote"
    # A Parquet store (ibbot data import) holds a file per bar size: replay this one (an IB
    # bar size string, e.g. "5 mins"); None: the finest each symbol has.
    bar_size: str | None = None

    @field_validator("bar_size")
    @classmethod
    def _store_bar_size(cls, v: str | None) -> str | None:
        return None if v is None else BarSpec._ib_bar_size(v)

    @property
    def bar_seconds(self) -> int | None:
        return None if self.bar_size is None else BAR_SIZES[self.bar_size]

    @field_validator("data", "instruments")
    @classmethod
    def _existing(cls, v: Path, info: ValidationInfo) -> Path:
        return resolve_path(v, info, must_exist=True)

    @field_validator("start", mode="before")
    @classmethod
    def _date_is_midnight(cls, v: Any) -> Any:
        if isinstance(v, date) and not isinstance(v, datetime):
            return datetime.combine(v, time(), UTC)
        return v

    @field_validator("start")
    @classmethod
    def _start_utc(cls, v: datetime | None) -> datetime | None:
        return None if v is None else utc(v)
