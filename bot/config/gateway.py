"""The simulated gateway's settings: the ``gateway:`` block of a config (started in-process) and
the flags of ``ibbot gateway`` (generated from the fields, bot/config/flags.py)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import Field, ValidationInfo, field_validator

from bot.config.bars import BarSpec
from bot.config.base import ConfigModel
from bot.config.fields import resolve_path, utc
from bot.config.flags import Flag
from bot.model.bar_sizes import BAR_SIZES
from bot.sim.commission import Schedule
from bot.sim.shipped import DEFAULT_INSTRUMENTS_FILE, SAMPLE_DATA_DIR

if TYPE_CHECKING:
    from bot.sim.broker import BrokerConfig


# The command's own words for a negative slippage (the file's: the field's ge=0 message).
def _slippage(text: str) -> float:
    value = float(text)
    if value < 0:
        raise ValueError("slippage must be >= 0 ticks")
    return value


class GatewaySettings(ConfigModel):
    """Present in a config: start the simulated gateway in-process and connect to it."""

    # The command serves the shipped sample from anywhere; a config names its paths relative
    # to where it runs (or to the config file).
    data: Annotated[Path, Flag(default=SAMPLE_DATA_DIR)] = Field(
        default=Path("data/sample"),
        validate_default=True,
        description="bars directory (<SYMBOL>.csv[.gz] or .parquet, or an `ibbot data import` "
        "store)",
    )
    instruments: Annotated[Path, Flag(default=DEFAULT_INSTRUMENTS_FILE)] = Field(
        default=Path("config/instruments.yaml"),
        validate_default=True,
        description="instruments YAML",
    )
    start: datetime | None = Field(
        default=None,
        description="simulated start, ISO (UTC if no zone); none: the regular open of the "
        "data's 6th trading day",
    )
    # A bot's own replay runs fast; the command serves clients, and people watch them.
    speed: Annotated[float | None, Flag(default=60.0)] = Field(
        default=600,
        ge=0,
        description="simulated seconds per wall second; 0 = as fast as clients read; "
        "'manual' = frozen clock",
    )
    seed: int = Field(default=1, description="seed of the derived ticks")
    account: str = Field(default="DU1234567", description="account id")
    cash: float = Field(default=1_000_000, gt=0, description="starting cash (USD)")
    participation: float | None = Field(
        default=None,
        gt=0,
        le=1,
        description="max share of each tick's size one order may take; none: no cap",
    )
    slippage_ticks: Annotated[float, Flag(parse=_slippage)] = Field(
        default=0, ge=0, description="ticks a market order fills beyond the quote, against it"
    )
    commission: Schedule = Field(
        default="ib_fixed",
        description="commission schedule: IB fixed, IB tiered (by monthly volume) or none",
    )
    fill_at: Literal["quote", "last"] = Field(
        default="quote",
        description="where marketable orders fill: quote (the ask for a buy, the bid for a "
        "sell, as at IB) or last (the trade price, as bar-based backtesters fill)",
    )
    bar_size: str | None = Field(
        default=None,
        description="the bar size to replay from an `ibbot data import` store, which holds a "
        "file per size (an IB bar size, e.g. '5 mins'); none: the finest each symbol has",
    )
    host: str = Field(default="127.0.0.1", description="address to listen on")
    port: Annotated[int, Flag(default=4002)] = Field(
        default=0, ge=0, le=65535, description="TCP port; 0 = any free"
    )
    server_version: Annotated[int | None, Flag(metavar="N")] = Field(
        default=None,
        description="pin the TWS API version; none: the highest the client accepts",
    )
    faults: Annotated[Path | None, Flag(metavar="FILE")] = Field(
        default=None,
        description="YAML fault plan: disconnects, restarts, 1100/1101/1102, farm notices, "
        "rejects, delayed acks, stale ids, at simulated times (see bot/gateway/faults.py)",
    )
    pacing: bool = Field(
        default=True, description="enforce IB's historical data pacing and message rate limits"
    )

    @field_validator("bar_size")
    @classmethod
    def _store_bar_size(cls, v: str | None) -> str | None:
        return None if v is None else BarSpec._ib_bar_size(v)

    @property
    def bar_seconds(self) -> int | None:
        return None if self.bar_size is None else BAR_SIZES[self.bar_size]

    @property
    def broker(self) -> BrokerConfig:
        """The simulated broker these settings ask for."""
        from bot.sim.broker import BrokerConfig

        return BrokerConfig.of(
            self.participation, self.slippage_ticks, self.commission, fill_at=self.fill_at
        )

    @field_validator("data", "instruments", "faults")
    @classmethod
    def _existing(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return None if v is None else resolve_path(v, info, must_exist=True)

    @field_validator("speed", mode="before")
    @classmethod
    def _manual(cls, v: Any) -> Any:
        return None if isinstance(v, str) and v.lower() in ("manual", "none") else v

    @field_validator("start", mode="before")
    @classmethod
    def _date_is_midnight(cls, v: Any) -> Any:
        if isinstance(v, str):
            try:
                v = datetime.fromisoformat(v)
            except ValueError:
                raise ValueError(f"not an ISO date/time: {v!r}") from None
        if isinstance(v, date) and not isinstance(v, datetime):
            return datetime.combine(v, time(), UTC)
        return v

    @field_validator("start")
    @classmethod
    def _start_utc(cls, v: datetime | None) -> datetime | None:
        return None if v is None else utc(v)
