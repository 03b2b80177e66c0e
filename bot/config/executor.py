"""``executor:``: how orders are placed."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator

from bot.config.base import ConfigModel
from bot.config.fields import ID


class ExecutorConfig(ConfigModel):
    order_type: Literal["MKT", "LMT"] = "MKT"
    tif: Literal["DAY", "GTC", "IOC", "OPG"] = "DAY"
    outside_rth: bool = False
    cancel_on_stop: bool = True
    order_ref_prefix: str = "ibbot"

    @field_validator("order_ref_prefix")
    @classmethod
    def _plain_prefix(cls, v: str) -> str:
        if not ID.fullmatch(v):
            raise ValueError(f"bad prefix {v!r}: use letters, digits, '_', '-' and '.' only")
        return v
