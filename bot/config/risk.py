"""``risk:`` and ``strategies[i].risk``: the limits of the account and of each strategy."""

from __future__ import annotations

from datetime import time
from pathlib import Path
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator

from bot.config.base import ConfigModel
from bot.config.fields import HHMM, resolve_path
from bot.model.events import OrderType


class RiskLimits(ConfigModel):
    """The limits of one scope: ``risk:`` (the account: sums over all strategies) or
    ``strategies[i].risk`` (that strategy alone). The README's risk table says what each does."""

    max_position: float | None = Field(default=None, gt=0)  # shares per symbol, absolute
    max_position_notional: float | None = Field(default=None, gt=0)  # per symbol, at the price
    max_gross_exposure: float | None = Field(default=None, gt=0)
    max_net_exposure: float | None = Field(default=None, gt=0)  # absolute
    max_order_quantity: float | None = Field(default=None, gt=0)
    max_order_notional: float | None = Field(default=None, gt=0)
    max_open_orders: int | None = Field(default=None, gt=0)
    max_orders_per_minute: int | None = Field(default=None, gt=0)
    max_orders_per_day: int | None = Field(default=None, gt=0)
    price_collar_pct: float | None = Field(default=None, gt=0)  # % from the last price
    price_collar_atr: float | None = Field(default=None, gt=0)  # N ATR(14) from the last price
    daily_loss_limit: float | None = Field(default=None, gt=0)  # REDUCING at -this today
    daily_profit_target: float | None = Field(default=None, gt=0)  # HALTED for the day at +this
    max_drawdown: float | None = Field(default=None, gt=0)  # from the day's equity high
    flatten_on_limit: bool = False  # flatten when a loss/drawdown limit is hit
    halt_at: str | None = None  # "15:45" exchange time: flatten and halt for the day
    session_only: bool = False  # no new entries outside the contract's liquid hours
    no_entries_before_close_min: float | None = Field(default=None, ge=0)
    flatten_before_close_min: float | None = Field(default=None, ge=0)  # 0: at the close
    allow_short: bool = True
    cooldown_after_losses: int | None = Field(default=None, gt=0)  # consecutive losing trips
    cooldown_min: float = Field(default=30.0, gt=0)
    duplicate_window_s: float | None = Field(default=None, gt=0)
    allowed_order_types: tuple[OrderType, ...] = tuple(OrderType)
    # Today's P&L for daily_loss_limit / daily_profit_target: own (the portfolio's) or ib (the
    # sum of IB's reqPnLSingle daily P&L over the strategy's symbols; own where IB has none)
    pnl_source: Literal["own", "ib"] = "own"
    # A protective stop the broker rejects, the position left open: flatten it, pause the
    # strategy's entries on the symbol (reduce), or only say so (alert); None: the account's.
    unprotected: Literal["flatten", "reduce", "alert"] | None = None

    @field_validator("halt_at")
    @classmethod
    def _hhmm(cls, v: str | None) -> str | None:
        if v is not None and not HHMM.fullmatch(v):
            raise ValueError(f"bad time {v!r}: write exchange-local HH:MM, e.g. '15:45'")
        return v

    @property
    def halt_time(self) -> time | None:
        if self.halt_at is None:
            return None
        hh, mm = self.halt_at.split(":")
        return time(int(hh), int(mm))


class RiskConfig(RiskLimits):
    """``risk:``: the account's limits, plus the operator's kill file."""

    max_orders_per_minute: int | None = Field(default=60, gt=0)
    unprotected: Literal["flatten", "reduce", "alert"] = "flatten"
    # This many broker rejections of one strategy's orders in a row pause its entries.
    reject_storm: int = Field(default=5, ge=1)
    kill_file: Path | None = None  # while it exists: kill the account (flatten, HALTED)

    @field_validator("kill_file")
    @classmethod
    def _where(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return None if v is None else resolve_path(v, info, must_exist=False)
