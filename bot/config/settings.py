"""The bot's settings: a YAML file validated into frozen pydantic models.

``load_config(path)`` reads the file (keeping the line of every key), substitutes ``${VAR}`` /
``${VAR:-default}`` in strings, validates, and checks what one model cannot see alone (strategy
classes and their params, symbols against the universe, unique ids). Every problem found is
reported at once by ``ConfigError``, one ``file:line: key.path: message`` per line.

Relative paths: an input path (``gateway.data``, ``gateway.instruments``) is taken relative to the
current directory if it exists there, else relative to the config file's directory; the journal
path likewise by where its parent directory exists (the current directory if neither). Loaded
configs hold them absolute.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any, Literal, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from bot.client.library import Library
from bot.config.errors import ConfigError, ConfigIssue, KeyPath, Problem, describe, render_path
from bot.config.errors import did_you_mean as _did_you_mean
from bot.config.ops import ControlConfig, MetricsConfig, NotifyConfig
from bot.config.yaml_lines import LoadedYaml, load_yaml
from bot.market_data.streams import NO_WARMUP
from bot.model.bar_sizes import BAR_SIZES
from bot.model.events import OrderType
from bot.sim.commission import Schedule
from bot.strategy import registry
from bot.strategy.api import Strategy

__all__ = [
    "BAR_SIZES",
    "SCAN_CODES",
    "BarSpec",
    "BotConfig",
    "ConfigError",
    "ConfigIssue",
    "ContractDefaults",
    "EmbeddedGatewayConfig",
    "ExecutorConfig",
    "IBConfig",
    "JournalConfig",
    "LoggingConfig",
    "RecordConfig",
    "RiskConfig",
    "RiskLimits",
    "ScannerConfig",
    "Sizing",
    "StrategyConfig",
    "SymbolConfig",
    "UniverseConfig",
    "load_config",
]

_DURATION = re.compile(r"[1-9][0-9]* [SDWMY]")
_LOOSE_DURATION = re.compile(r"\s*([0-9]+)\s*([a-z]+)\s*", re.IGNORECASE)
_DURATION_UNITS = {"S": "seconds", "D": "days", "W": "weeks", "M": "months", "Y": "years"}
_INTERVAL = re.compile(r"([0-9]+(?:\.[0-9]+)?)\s*([smh])")
_ID = re.compile(r"[A-Za-z0-9_.-]+")
_PAIR = re.compile(r"([A-Z]{3})\.([A-Z]{3})")
_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])")
# The scan codes the bot knows to rank by (IB offers many more; these are the simulator's).
ScanCodeName = Literal["TOP_PERC_GAIN", "TOP_PERC_LOSE", "HIGH_OPEN_GAP", "LOW_OPEN_GAP",
                       "MOST_ACTIVE"]  # fmt: skip
SCAN_CODES: tuple[str, ...] = get_args(ScanCodeName)


class _Model(BaseModel):
    model_config = ConfigDict(
        extra="forbid", frozen=True, validate_by_name=True, serialize_by_alias=True
    )


# --- IB connection and the embedded simulated gateway ----------------------------------------


def _hh_mm(v: Any) -> Any:
    if isinstance(v, int) and not isinstance(v, bool):  # YAML 1.1 reads 9:35 as 575
        raise ValueError('write the time in quotes, e.g. "09:35"')
    if isinstance(v, str) and not _HHMM.fullmatch(v.strip()):
        raise ValueError(f"bad time {v!r}; write exchange-local 'HH:MM', e.g. '09:35'")
    return v.strip() if isinstance(v, str) else v


def _known_zone(v: str) -> str:
    from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

    try:
        ZoneInfo(v)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown time zone {v!r}, e.g. America/New_York") from None
    return v


def _interval(v: Any) -> Any:
    if isinstance(v, int | float) and not isinstance(v, bool) and v > 0:
        return float(v)
    if isinstance(v, str) and _INTERVAL.fullmatch(v.strip()):
        return v.strip()
    raise ValueError(f"bad interval {v!r}; write seconds (300) or e.g. '30s', '5m', '1h'")


def interval_seconds(v: str | float) -> float:
    """A checked interval (``_interval``) in seconds."""
    if isinstance(v, float):
        return v
    match = _INTERVAL.fullmatch(v)
    assert match is not None  # checked when loaded
    return float(match[1]) * {"s": 1, "m": 60, "h": 3600}[match[2]]


def _time_of(hh_mm: str) -> time:
    hh, mm = hh_mm.split(":")
    return time(int(hh), int(mm))


class ReconnectConfig(_Model):
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


class MaintenanceConfig(_Model):
    """IB Gateway's daily restart: entries pause and the disconnect is expected."""

    start: str
    end: str
    timezone: str = "America/New_York"

    _hh_mm = field_validator("start", "end", mode="before")(classmethod(lambda cls, v: _hh_mm(v)))
    _known_zone = field_validator("timezone")(classmethod(lambda cls, v: _known_zone(v)))

    @model_validator(mode="after")
    def _not_empty(self) -> MaintenanceConfig:
        if self.start == self.end:
            raise ValueError(f"start and end are both {self.start}: the window would be empty")
        return self

    @property
    def start_time(self) -> time:
        return _time_of(self.start)

    @property
    def end_time(self) -> time:
        return _time_of(self.end)


class WatchdogConfig(_Model):
    """Staleness watchdog: a bar stream silent for ``stale_bars`` bar intervals in liquid
    hours is resubscribed; ``pause_after`` resubscriptions in a row pause its entries."""

    stale_bars: float = Field(default=2.0, ge=1)
    pause_after: int = Field(default=3, ge=1)
    poll: float = Field(default=5.0, gt=0)  # wall seconds between checks


class IBConfig(_Model):
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


def _resolve(path: Path, info: ValidationInfo, *, must_exist: bool) -> Path:
    """Cwd first, then the config file's directory (see module docstring)."""
    base = (info.context or {}).get("config_dir")
    if base is None or path.is_absolute():
        if base is not None and must_exist and not path.exists():
            raise ValueError(f"not found: {str(path)!r}")
        return path
    cwd = Path.cwd()
    roots = list(dict.fromkeys((cwd, Path(base).absolute())))
    probe = (lambda p: p.exists()) if must_exist else (lambda p: p.parent.is_dir())
    for root in roots:
        if probe(root / path):
            return root / path
    if must_exist:
        looked = " and ".join(str(r) for r in roots)
        raise ValueError(f"not found: {str(path)!r} (looked in {looked})")
    return cwd / path


def _utc(v: datetime) -> datetime:
    return v.replace(tzinfo=UTC) if v.tzinfo is None else v.astimezone(UTC)


class EmbeddedGatewayConfig(_Model):
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
        return _resolve(v, info, must_exist=True)

    @field_validator("start", mode="before")
    @classmethod
    def _date_is_midnight(cls, v: Any) -> Any:
        if isinstance(v, date) and not isinstance(v, datetime):
            return datetime.combine(v, time(), UTC)
        return v

    @field_validator("start")
    @classmethod
    def _start_utc(cls, v: datetime | None) -> datetime | None:
        return None if v is None else _utc(v)


# --- universe ----------------------------------------------------------------------------------


class ContractDefaults(_Model):
    sec_type: Literal["STK", "CASH"] = "STK"
    exchange: str = "SMART"
    currency: str = "USD"
    primary_exchange: str | None = None


class SymbolConfig(_Model):
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


def _resolve_symbol(entry: Any, defaults: Mapping[str, Any]) -> Any:
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


def _usable_defaults(raw: Any) -> dict[str, Any]:
    # Bad defaults are reported once, at `universe.defaults`, not again at every symbol.
    try:
        return ContractDefaults.model_validate(raw or {}).model_dump(exclude_none=True)
    except ValidationError:
        return ContractDefaults().model_dump(exclude_none=True)


def _names_or_mappings(schema: dict[str, Any]) -> None:
    # Entries are written as names ("AAPL", "EUR.USD") or mappings; tell editors both are fine.
    schema["items"] = {"anyOf": [{"type": "string"}, schema["items"]]}


class UniverseConfig(_Model):
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
            defaults = _usable_defaults(data.get("defaults"))
            data = {**data, "symbols": [_resolve_symbol(e, defaults) for e in data["symbols"]]}
        return data

    def names(self) -> list[str]:
        return [s.name for s in self.symbols]

    def get(self, name: str) -> SymbolConfig:
        for s in self.symbols:
            if s.name == name:
                return s
        raise KeyError(name)


# --- strategies --------------------------------------------------------------------------------


def _duration_hint(bad: str) -> str:
    """The spelling IB accepts for a loosely written duration ("10days" -> "10 D"). Only a valid
    duration is suggested, so never the refused value itself ("0 D": the count is the problem)."""
    loose = _LOOSE_DURATION.fullmatch(bad)
    word = loose[2].lower() if loose else ""
    # "d", "day", "days" mean days; "mins" is no IB unit (not months)
    unit = next((u for u, name in _DURATION_UNITS.items() if name.startswith(word)), None)
    if not loose or unit is None:
        return ""
    if int(loose[1]) == 0:
        return " (the count must be 1 or more)"
    fix = f"{int(loose[1])} {unit}"
    return f" (did you mean {fix!r}?)" if _DURATION.fullmatch(fix) else ""


class BarSpec(_Model):
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
        if not _DURATION.fullmatch(v):
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


class Sizing(_Model):
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


class ScannerConfig(_Model):
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

    _hh_mm = field_validator("at", mode="before")(classmethod(lambda cls, v: _hh_mm(v)))
    _known_zone = field_validator("timezone")(classmethod(lambda cls, v: _known_zone(v)))

    @model_validator(mode="after")
    def _price_band(self) -> ScannerConfig:
        lo, hi = self.above_price, self.below_price
        if lo is not None and hi is not None and hi <= lo:
            raise ValueError(f"below_price {hi:g} must be above above_price {lo:g}")
        return self

    @property
    def at_time(self) -> time:
        return _time_of(self.at)


TICK_BY_TICK_TYPES = ("AllLast", "Last", "BidAsk", "MidPoint")


class TickSpec(_Model):
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


class RiskLimits(_Model):
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
        if v is not None and not _HHMM.fullmatch(v):
            raise ValueError(f"bad time {v!r}: write exchange-local HH:MM, e.g. '15:45'")
        return v

    @property
    def halt_time(self) -> time | None:
        if self.halt_at is None:
            return None
        hh, mm = self.halt_at.split(":")
        return time(int(hh), int(mm))


class StrategyConfig(_Model):
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
        if not _ID.fullmatch(v):
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


# --- order side, journal, logging ------------------------------------------------------------


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
        return None if v is None else _resolve(v, info, must_exist=False)


class ExecutorConfig(_Model):
    order_type: Literal["MKT", "LMT"] = "MKT"
    tif: Literal["DAY", "GTC", "IOC", "OPG"] = "DAY"
    outside_rth: bool = False
    cancel_on_stop: bool = True
    order_ref_prefix: str = "ibbot"

    @field_validator("order_ref_prefix")
    @classmethod
    def _plain_prefix(cls, v: str) -> str:
        if not _ID.fullmatch(v):
            raise ValueError(f"bad prefix {v!r}: use letters, digits, '_', '-' and '.' only")
        return v


class JournalConfig(_Model):
    path: Path = Field(default=Path("runs/journal.sqlite"), validate_default=True)

    @field_validator("path")
    @classmethod
    def _where(cls, v: Path, info: ValidationInfo) -> Path:
        return _resolve(v, info, must_exist=False)


class RecordConfig(_Model):
    """``record:``: store the bars and ticks the daemon receives (bot/market_data/recorder.py)."""

    dir: Path
    flush: str | float = "5s"  # seconds between writes: what a crash may lose at most
    batch_rows: int = Field(default=10_000, gt=0)  # or sooner, once this many rows wait

    @field_validator("dir")
    @classmethod
    def _folder(cls, v: Path, info: ValidationInfo) -> Path:
        path = _resolve(v, info, must_exist=False)
        if path.exists() and not path.is_dir():
            raise ValueError(f"{str(v)!r} is a file, not a folder to record into")
        return path

    _flush = field_validator("flush", mode="before")(classmethod(lambda cls, v: _interval(v)))

    @property
    def flush_s(self) -> float:
        return interval_seconds(self.flush)


class LoggingConfig(_Model):
    level: Literal["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    format: Literal["console", "json"] = "console"
    file: Path | None = None  # also log there, rotated (besides stderr)
    max_bytes: int = Field(default=10_000_000, gt=0)
    backups: int = Field(default=5, ge=0)

    @field_validator("file")
    @classmethod
    def _log_where(cls, v: Path | None, info: ValidationInfo) -> Path | None:
        return None if v is None else _resolve(v, info, must_exist=False)

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, v: Any) -> Any:
        return v.upper() if isinstance(v, str) else v


class BotConfig(_Model):
    ib: IBConfig = IBConfig()
    mode: Literal["paper", "live"] = "paper"
    dry_run: bool = False
    gateway: EmbeddedGatewayConfig | None = None
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
        classmethod(lambda cls, v: _interval(v))
    )

    @property
    def status_interval_s(self) -> float:
        return interval_seconds(self.status_interval)


# --- loading -----------------------------------------------------------------------------------


def load_config(path: Path, *, env: Mapping[str, str] | None = None) -> BotConfig:
    """Read, substitute, validate; raise ConfigError listing every problem."""
    loaded = load_yaml(Path(path), os.environ if env is None else env)
    problems = _cross_checks(loaded.data)
    try:
        config = BotConfig.model_validate(loaded.data, context={"config_dir": Path(path).parent})
    except ValidationError as exc:
        problems += [describe(err, BotConfig) for err in exc.errors()]
        config = None
    issues = loaded.issues + [_issue(str(path), loaded, p) for p in problems]
    if issues or config is None:
        raise ConfigError(issues)
    return _with_typed_params(config)


def _issue(file: str, loaded: LoadedYaml, p: Problem) -> ConfigIssue:
    return ConfigIssue(file, p.message, loaded.line_of(p.line_loc), path=render_path(p.shown_loc))


def _with_typed_params(config: BotConfig) -> BotConfig:
    # Store each strategy's params validated and with its defaults, as `check` should show them,
    # and its risk limits with those its params ask for (Strategy.risk_limits) folded in.
    strategies = []
    for s in config.strategies:
        typed = s.typed_params()
        asked = s.strategy_class().risk_limits(typed)
        update: dict[str, Any] = {"params": typed.model_dump(by_alias=True)}
        if asked:
            update["risk"] = RiskLimits.model_validate(
                {**asked, **s.risk.model_dump(exclude_unset=True)}
            )
        strategies.append(s.model_copy(update=update))
    return config.model_copy(update={"strategies": strategies})


def _raw_symbol_names(raw: dict[str, Any]) -> list[tuple[int, str]] | None:
    """(index, name) of each well-formed universe entry; None when there is no usable list."""
    universe = raw.get("universe")
    if not isinstance(universe, dict) or not isinstance(universe.get("symbols", []), list):
        return None
    defaults = _usable_defaults(universe.get("defaults"))
    out = []
    for j, entry in enumerate(universe.get("symbols", [])):
        full = _resolve_symbol(entry, defaults)
        if isinstance(full, dict) and isinstance(full.get("symbol"), str):
            cash = full.get("sec_type") == "CASH"
            out.append((j, f"{full['symbol']}.{full.get('currency')}" if cash else full["symbol"]))
    return out


def _cross_checks(raw: dict[str, Any]) -> list[Problem]:
    """What no single model can see; tolerant of malformed parts (pydantic reports those)."""
    problems: list[Problem] = []
    if raw.get("mode") == "live" and raw.get("gateway") is not None:
        msg = "mode 'live' cannot use the simulated gateway (remove 'gateway' or use mode: paper)"
        problems.append(Problem(("mode",), ("mode",), msg))
    ib = raw.get("ib")
    scale = ib.get("history_pacing_scale") if isinstance(ib, dict) else None
    if raw.get("mode") == "live" and isinstance(scale, int | float) and scale != 1:
        key = ("ib", "history_pacing_scale")
        msg = (
            f"history_pacing_scale {scale} with mode 'live': IB's pacing rules cannot be "
            "scaled (the key is for a simulated gateway replaying faster; remove it)"
        )
        problems.append(Problem(key, key, msg))
    symbols = _raw_symbol_names(raw)
    problems += _empty_universe(raw, symbols)
    first: dict[str, int] = {}
    for j, name in symbols or []:
        if name in first:
            loc = ("universe", "symbols", j)
            msg = f"duplicate symbol {name!r} (also universe.symbols[{first[name]}])"
            problems.append(Problem(loc, loc, msg))
        first.setdefault(name, j)
    strategies = raw.get("strategies")
    if not isinstance(strategies, list):
        return problems
    names = None if symbols is None else list(first)
    seen: dict[str, int] = {}
    for i, strategy in enumerate(strategies):
        if isinstance(strategy, dict):
            problems += _strategy_checks(("strategies", i), strategy, names, seen)
    return problems


def _empty_universe(raw: dict[str, Any], symbols: list[tuple[int, str]] | None) -> list[Problem]:
    """An empty universe is fine only when every strategy scans for its symbols."""
    universe, strategies = raw.get("universe"), raw.get("strategies")
    if symbols or symbols is None or not isinstance(strategies, list):
        return []
    if not any(isinstance(s, dict) and s.get("scanner") is None for s in strategies):
        return []
    assert isinstance(universe, dict)
    given = "symbols" in universe
    loc = ("universe", "symbols") if given else ("universe",)
    msg = "must not be empty" if given else "missing required key 'symbols'"
    return [Problem(loc, loc, f"{msg} (only strategies with a scanner can do without)")]


def _strategy_checks(
    base: KeyPath, raw: dict[str, Any], names: list[str] | None, seen: dict[str, int]
) -> list[Problem]:
    problems: list[Problem] = []
    sid = raw.get("id")
    if isinstance(sid, str):
        if sid in seen:
            loc = (*base, "id")
            problems.append(
                Problem(loc, loc, f"duplicate strategy id {sid!r} (also strategies[{seen[sid]}])")
            )
        seen.setdefault(sid, int(base[-1]))
    name = raw.get("class")
    if isinstance(name, str):
        problems += _class_checks(base, name, raw.get("params"))
    symbols = raw.get("symbols")
    if isinstance(symbols, list) and names is not None:
        for j, sym in enumerate(symbols):
            loc = (*base, "symbols", j)
            if isinstance(sym, str) and sym not in names:
                hint = _did_you_mean(sym, names)
                problems.append(Problem(loc, loc, f"symbol {sym!r} is not in the universe{hint}"))
            elif isinstance(sym, str) and symbols.index(sym) != j:
                problems.append(Problem(loc, loc, f"symbol {sym!r} is listed twice"))
    return problems


def _class_checks(base: KeyPath, name: str, params: Any) -> list[Problem]:
    try:
        cls = registry.get(name)
    except registry.UnknownStrategyError:
        loc = (*base, "class")
        known = registry.known()
        msg = f"unknown strategy {name!r}{_did_you_mean(name, known)}; known: {', '.join(known)}"
        return [Problem(loc, loc, msg)]
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return []  # pydantic reports the type
    try:
        cls.Params.model_validate(params)
    except ValidationError as exc:
        return [describe(err, cls.Params, prefix=(*base, "params")) for err in exc.errors()]
    return []
