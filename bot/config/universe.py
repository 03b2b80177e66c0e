"""``universe:``: the contracts the bot trades, written as names or mappings."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, ValidationError, model_validator

from bot.config.base import ConfigModel

_PAIR = re.compile(r"([A-Z]{3})\.([A-Z]{3})")


class ContractDefaults(ConfigModel):
    sec_type: Literal["STK", "CASH"] = "STK"
    exchange: str = "SMART"
    currency: str = "USD"
    primary_exchange: str | None = None


class SymbolConfig(ConfigModel):
    """One contract of the universe; loaded configs hold them with the defaults filled in."""

    symbol: str = Field(min_length=1)
    sec_type: Literal["STK", "CASH"] = "STK"
    exchange: str = "SMART"
    currency: str = "USD"
    primary_exchange: str | None = None

    @property
    def name(self) -> str:
        """How strategies refer to it: ``AAPL``, or ``EUR.USD`` for a currency pair."""
        return f"{self.symbol}.{self.currency}" if self.sec_type == "CASH" else self.symbol

    def contract(self) -> Any:
        """An (unqualified) ``Contract`` of the client library (bot/client/ib.py)."""
        from bot.client.ib import Contract

        return Contract(
            secType=self.sec_type,
            symbol=self.symbol,
            exchange=self.exchange,
            currency=self.currency,
            primaryExchange=self.primary_exchange or "",
        )


# Where an entry's sec_type differs from `universe.defaults`, these fill it in instead.
_STANDARD: dict[str, dict[str, Any]] = {
    "STK": {"exchange": "SMART", "currency": "USD"},
    "CASH": {"exchange": "IDEALPRO", "currency": "USD"},
}


def resolve_symbol(entry: Any, defaults: Mapping[str, Any]) -> Any:
    """``"AAPL"`` / ``"EUR.USD"`` / a partial mapping -> a full SymbolConfig mapping."""
    given: dict[str, Any] = {"symbol": entry} if isinstance(entry, str) else entry
    if not isinstance(given, dict):
        return entry
    pair = _PAIR.fullmatch(given["symbol"]) if isinstance(given.get("symbol"), str) else None
    if pair and given.get("sec_type", "CASH") == "CASH":
        given = {**given, "symbol": pair[1], "currency": pair[2], "sec_type": "CASH"}
    sec_type = given.get("sec_type", defaults.get("sec_type", "STK"))
    base = defaults if sec_type == defaults.get("sec_type", "STK") else _STANDARD.get(sec_type, {})
    return {**base, "sec_type": sec_type, **given}


def usable_defaults(raw: Any) -> dict[str, Any]:
    # Bad defaults are reported once, at `universe.defaults`, not again at every symbol.
    try:
        return ContractDefaults.model_validate(raw or {}).model_dump(exclude_none=True)
    except ValidationError:
        return ContractDefaults().model_dump(exclude_none=True)


def _names_or_mappings(schema: dict[str, Any]) -> None:
    # Entries are written as names ("AAPL", "EUR.USD") or mappings; tell editors both are fine.
    schema["items"] = {"anyOf": [{"type": "string"}, schema["items"]]}


class UniverseConfig(ConfigModel):
    """Symbols as names ("AAPL", "EUR.USD" for a currency pair) or mappings. ``defaults`` fill
    in entries of its sec_type; entries of another sec_type get that type's usual exchange and
    currency (CASH: IDEALPRO). Loaded configs hold every entry complete."""

    defaults: ContractDefaults = ContractDefaults()
    # Empty only when every strategy scans (checked in BotConfig): scanned symbols are
    # qualified at run time with ``defaults``.
    symbols: list[SymbolConfig] = Field(default_factory=list, json_schema_extra=_names_or_mappings)

    @model_validator(mode="before")
    @classmethod
    def _fill_defaults(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("symbols"), list):
            defaults = usable_defaults(data.get("defaults"))
            data = {**data, "symbols": [resolve_symbol(e, defaults) for e in data["symbols"]]}
        return data

    def names(self) -> list[str]:
        return [s.name for s in self.symbols]

    def get(self, name: str) -> SymbolConfig:
        for s in self.symbols:
            if s.name == name:
                return s
        raise KeyError(name)
