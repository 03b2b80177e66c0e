"""``strategies:``: each strategy's class, symbols, scanner, sizing and params."""

from __future__ import annotations

from datetime import time
from typing import Any, Literal

from pydantic import BaseModel, Field, field_validator, model_validator

from bot.config.bars import BarSpec, TickSpec
from bot.config.base import ConfigModel
from bot.config.fields import ID, hh_mm, known_zone, time_of
from bot.config.risk import RiskLimits
from bot.strategy import registry
from bot.strategy.api import Strategy

# The scan codes the bot knows to rank by (IB offers many more; these are the simulator's).
ScanCodeName = Literal["TOP_PERC_GAIN", "TOP_PERC_LOSE", "HIGH_OPEN_GAP", "LOW_OPEN_GAP",
                       "MOST_ACTIVE"]  # fmt: skip


class Sizing(ConfigModel):
    """Exactly one: whole shares, capital per trade, or percent of net liquidation value."""

    fixed: int | None = Field(default=None, gt=0)
    capital: float | None = Field(default=None, gt=0)
    percent_nlv: float | None = Field(default=None, gt=0, le=100)

    @model_validator(mode="after")
    def _one_mode(self) -> Sizing:
        given = [k for k in ("fixed", "capital", "percent_nlv") if getattr(self, k) is not None]
        if len(given) != 1:
            got = " and ".join(given) if given else "none"
            raise ValueError(f"set exactly one of fixed, capital, percent_nlv (got {got})")
        return self


class ScannerConfig(ConfigModel):
    """A daily scanned universe: each trading day at ``at`` (exchange time, ``timezone``) the
    scanner's top ``top`` rows become the strategy's symbols for the day
    (``bot/trading/daily_scan.py``)."""

    scan_code: ScanCodeName
    top: int = Field(default=5, ge=1, le=50)
    instrument: str = "STK"
    location: str = "STK.US.MAJOR"
    at: str = "09:35"  # exchange-local "HH:MM"
    timezone: str = "America/New_York"  # the exchange's, for `at`
    above_price: float | None = Field(default=None, gt=0)
    below_price: float | None = Field(default=None, gt=0)
    above_volume: int | None = Field(default=None, ge=0)

    _hh_mm = field_validator("at", mode="before")(classmethod(lambda cls, v: hh_mm(v)))
    _known_zone = field_validator("timezone")(classmethod(lambda cls, v: known_zone(v)))

    @model_validator(mode="after")
    def _price_band(self) -> ScannerConfig:
        lo, hi = self.above_price, self.below_price
        if lo is not None and hi is not None and hi <= lo:
            raise ValueError(f"below_price {hi:g} must be above above_price {lo:g}")
        return self

    @property
    def at_time(self) -> time:
        return time_of(self.at)


class StrategyConfig(ConfigModel):
    id: str
    class_: str = Field(alias="class")  # registry name
    symbols: list[str] = Field(default_factory=list)  # names from the universe
    scanner: ScannerConfig | None = None  # symbols from a daily scan, in addition
    bars: BarSpec = BarSpec()
    # false (none, or what the strategy asks for), true (market data), or a TickSpec such as
    # {kind: tick_by_tick, what: AllLast}; loaded: a TickSpec or None
    ticks: TickSpec | None = None
    params: dict[str, Any] = Field(default_factory=dict)  # loaded: the class's Params, dumped
    sizing: Sizing
    enabled: bool = True
    on_error: Literal["disable", "continue"] = "disable"
    risk: RiskLimits = RiskLimits()  # this strategy's own limits (the account's: top-level risk)

    @field_validator("id")
    @classmethod
    def _plain_id(cls, v: str) -> str:
        # The id goes into every orderRef ("prefix:id:symbol:tag:seq"), so no colons or spaces.
        if not ID.fullmatch(v):
            raise ValueError(f"bad id {v!r}: use letters, digits, '_', '-' and '.' only")
        return v

    @field_validator("params", mode="before")
    @classmethod
    def _null_is_empty(cls, v: Any) -> Any:
        return {} if v is None else v

    @model_validator(mode="after")
    def _has_symbols(self) -> StrategyConfig:
        if not self.symbols and self.scanner is None:
            raise ValueError("no symbols: set 'symbols', 'scanner' or both")
        return self

    @field_validator("ticks", mode="before")
    @classmethod
    def _ticks_flag(cls, v: Any) -> Any:
        if isinstance(v, bool):
            return TickSpec() if v else None
        if v is None or isinstance(v, dict | TickSpec):
            return v
        raise ValueError(
            f"expected true, false or {{kind: market_data | tick_by_tick, what: ...}}, got {v!r}"
        )

    def strategy_class(self) -> type[Strategy]:
        return registry.get(self.class_)

    def typed_params(self) -> BaseModel:
        """``params`` as an instance of the strategy class's ``Params`` model."""
        return self.strategy_class().Params.model_validate(self.params)
