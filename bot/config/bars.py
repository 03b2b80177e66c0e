"""A strategy's ``bars:`` and ``ticks:``: what market data it gets."""

from __future__ import annotations

import re
from typing import Literal

from pydantic import field_validator, model_validator

from bot.config.base import ConfigModel
from bot.config.errors import did_you_mean as _did_you_mean
from bot.market_data.streams import NO_WARMUP
from bot.model.bar_sizes import BAR_SIZES
from bot.model.durations import UNITS, parse_duration

# A number and a word, for the hint only: "10days", "3 Months" (IB's own form: bot.model).
_LOOSE_DURATION = re.compile(r"\s*([0-9]+)\s*([a-z]+)\s*", re.IGNORECASE)


def _duration_hint(bad: str) -> str:
    """The spelling IB accepts for a loosely written duration ("10days" -> "10 D"). Only a valid
    duration is suggested, so never the refused value itself ("0 D": the count is the problem)."""
    loose = _LOOSE_DURATION.fullmatch(bad)
    word = loose[2].lower() if loose else ""
    # "d", "day", "days" mean days; "mins" is no IB unit (not months)
    unit = next((u for u, name in UNITS.items() if name.startswith(word)), None)
    if not loose or unit is None:
        return ""
    if int(loose[1]) == 0:
        return " (the count must be 1 or more)"
    fix = f"{int(loose[1])} {unit}"
    return f" (did you mean {fix!r}?)" if _exact_duration(fix) else ""


def _exact_duration(text: str) -> bool:
    """``text`` is an IB duration written as IB writes it ("10 D": no other case or spacing)."""
    parsed = parse_duration(text)
    return parsed is not None and str(parsed) == text


class BarSpec(ConfigModel):
    size: str = "15 mins"  # an IB bar size string, see BAR_SIZES
    # ADJUSTED_LAST: the warm-up history adjusted for splits and dividends (IB serves it only
    # ending now and never kept up to date, so not with source keep_up_to_date).
    what_to_show: Literal["TRADES", "MIDPOINT", "BID", "ASK", "ADJUSTED_LAST"] = "TRADES"
    use_rth: bool = True
    warmup: str = "10 D"  # an IB duration: "<N> S|D|W|M|Y"; "none": no warm-up history
    # Live bars: 5-second real-time bars aggregated by the bot ("realtime"), or IB's own bars of
    # this size kept up to date (reqHistoricalData keepUpToDate; each handed on when the next
    # one starts, so a session's last bar arrives with the next session's first).
    source: Literal["realtime", "keep_up_to_date"] = "realtime"

    @field_validator("size")
    @classmethod
    def _ib_bar_size(cls, v: str) -> str:
        if v not in BAR_SIZES:
            hint = _did_you_mean(v, BAR_SIZES)
            raise ValueError(f"bad bar size {v!r}{hint}; IB bar sizes: {', '.join(BAR_SIZES)}")
        return v

    @field_validator("warmup")
    @classmethod
    def _ib_duration(cls, v: str) -> str:
        if v.strip().lower() == NO_WARMUP:
            return NO_WARMUP
        if not _exact_duration(v):
            raise ValueError(
                f"bad duration {v!r}{_duration_hint(v)};"
                " IB durations are '<N> S|D|W|M|Y', e.g. '10 D'"
            )
        return v

    @model_validator(mode="after")
    def _warmup_for_keep_up_to_date(self) -> BarSpec:
        if self.warmup == NO_WARMUP and self.source == "keep_up_to_date":
            raise ValueError(
                "warmup: none needs source: realtime (keep_up_to_date bars come with their "
                "history request)"
            )
        return self

    @model_validator(mode="after")
    def _adjusted_last_not_live(self) -> BarSpec:
        if self.what_to_show == "ADJUSTED_LAST" and self.source == "keep_up_to_date":
            raise ValueError(
                "what_to_show ADJUSTED_LAST cannot be kept up to date (IB refuses keepUpToDate "
                "with it): use source: realtime"
            )
        return self

    @property
    def size_s(self) -> int:
        return BAR_SIZES[self.size]


TICK_BY_TICK_TYPES = ("AllLast", "Last", "BidAsk", "MidPoint")


class TickSpec(ConfigModel):
    """A strategy's ticks: IB market data (a quote-and-last snapshot per update; ``ticks: true``)
    or tick-by-tick data of one type (``reqTickByTickData``: every trade, or every quote)."""

    kind: Literal["market_data", "tick_by_tick"] = "market_data"
    what: Literal["AllLast", "Last", "BidAsk", "MidPoint"] | None = None  # tick_by_tick only

    @model_validator(mode="after")
    def _what_for_kind(self) -> TickSpec:
        if self.kind == "tick_by_tick" and self.what is None:
            raise ValueError(f"tick_by_tick needs 'what': one of {', '.join(TICK_BY_TICK_TYPES)}")
        if self.kind == "market_data" and self.what is not None:
            raise ValueError("'what' is for kind: tick_by_tick (market data has no types)")
        return self

    @property
    def tick_by_tick(self) -> str | None:
        """The reqTickByTickData type, or None for market data."""
        return self.what if self.kind == "tick_by_tick" else None
