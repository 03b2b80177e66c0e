"""The instruments the simulated market knows, loaded from ``config/instruments.yaml``.

An :class:`Instrument` is the simulator's record of one contract: how to qualify it (an
ib_insync ``Contract``/``ContractDetails``) and when it trades. Session templates are given in
exchange time ("09:30-16:00"); a template whose end is not after its start runs overnight, so
the session of trading day D starts on the calendar day before (IB's convention for forex:
Monday's session opens Sunday 17:00). Trading days are Monday to Friday; holidays are not
modelled. All datetimes in and out are timezone-aware UTC; exchange time only via zoneinfo.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from ib_insync import Contract, ContractDetails

from bot.sim.shipped import DEFAULT_INSTRUMENTS_FILE

# Market rule ids IB reports: 26 is the US stock tick-size rule, 239 IDEALPRO forex.
_MARKET_RULES = {"STK": "26", "CASH": "239"}
_ORDER_TYPES = "ALERT,DAY,GTC,IOC,LIT,LMT,LOC,MIT,MKT,MOC,OPG,REL,STP,STPLMT,TRAIL,TRAILLIMIT"
_RENDER_DAYS = 7  # IB sends about a week of sessions starting with the current day


class InstrumentError(ValueError):
    """A bad instruments file; the message names the file, the entry and the key."""


@dataclass(frozen=True, slots=True)
class SessionTemplate:
    """A daily session "HH:MM-HH:MM" in exchange time; overnight when end <= start."""

    start: time
    end: time

    @property
    def overnight(self) -> bool:
        return self.end <= self.start

    @classmethod
    def parse(cls, text: str) -> SessionTemplate:
        try:
            a, b = text.split("-")
            start, end = time.fromisoformat(a.strip()), time.fromisoformat(b.strip())
        except ValueError:
            raise ValueError(f"session {text!r} is not of the form 'HH:MM-HH:MM'") from None
        return cls(start, end)

    def bounds(self, day: date, tz: ZoneInfo) -> tuple[datetime, datetime] | None:
        """The UTC (start, end) of trading day ``day``'s session, None on a weekend."""
        if day.weekday() >= 5:
            return None
        first = day - timedelta(days=1) if self.overnight else day
        start = datetime.combine(first, self.start, tz).astimezone(UTC)
        end = datetime.combine(day, self.end, tz).astimezone(UTC)
        return start, end


@dataclass(frozen=True, slots=True)
class Instrument:
    """One tradable contract of the simulated market."""

    symbol: str
    sec_type: str
    exchange: str
    primary_exchange: str  # "" for forex
    currency: str
    con_id: int
    min_tick: float
    time_zone_id: str
    long_name: str
    trading_hours: str
    liquid_hours: str
    shortable: bool = True
    spread: float = 0.0  # 0 means one min_tick
    local_symbol: str = ""  # "" means the symbol
    _trading: SessionTemplate = field(init=False, repr=False, compare=False)
    _liquid: SessionTemplate = field(init=False, repr=False, compare=False)
    _tz: ZoneInfo = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        # Frozen: derived fields are set once here, through object.__setattr__.
        object.__setattr__(self, "_trading", SessionTemplate.parse(self.trading_hours))
        object.__setattr__(self, "_liquid", SessionTemplate.parse(self.liquid_hours))
        object.__setattr__(self, "_tz", ZoneInfo(self.time_zone_id))
        if self.spread <= 0:
            object.__setattr__(self, "spread", self.min_tick)
        if not self.local_symbol:
            object.__setattr__(self, "local_symbol", self.symbol)

    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    @property
    def trading_class(self) -> str:
        # IB reports NASDAQ-listed stocks with trading class "NMS"; forex by pair.
        if self.sec_type == "STK" and self.primary_exchange == "NASDAQ":
            return "NMS"
        return self.local_symbol

    def contract(self) -> Contract:
        """The fully qualified Contract, as qualifyContracts would fill it in."""
        return Contract(
            secType=self.sec_type,
            conId=self.con_id,
            symbol=self.symbol,
            exchange=self.exchange,
            primaryExchange=self.primary_exchange,
            currency=self.currency,
            localSymbol=self.local_symbol,
            tradingClass=self.trading_class,
        )

    def contract_details(self, now: datetime) -> ContractDetails:
        """ContractDetails with a week of sessions from ``now``'s exchange date."""
        exchanges = [self.exchange] + (
            [self.primary_exchange]
            if self.primary_exchange and self.primary_exchange != self.exchange
            else []
        )
        rule = _MARKET_RULES.get(self.sec_type, "26")
        return ContractDetails(
            contract=self.contract(),
            marketName=self.trading_class,
            minTick=self.min_tick,
            orderTypes=_ORDER_TYPES,
            validExchanges=",".join(exchanges),
            priceMagnifier=1,
            longName=self.long_name,
            timeZoneId=self.time_zone_id,
            tradingHours=self.render_hours(now, liquid=False),
            liquidHours=self.render_hours(now, liquid=True),
            marketRuleIds=",".join([rule] * len(exchanges)),
            stockType="COMMON" if self.sec_type == "STK" else "",
            minSize=1.0,
            sizeIncrement=1.0,
            suggestedSizeIncrement=100.0 if self.sec_type == "STK" else 1.0,
        )

    def render_hours(self, now: datetime, liquid: bool) -> str:
        """IB's session string: "20261124:0930-20261124:1600;20261128:CLOSED;..."."""
        template = self._liquid if liquid else self._trading
        today = now.astimezone(self._tz).date()
        parts = []
        for i in range(_RENDER_DAYS):
            day = today + timedelta(days=i)
            bounds = template.bounds(day, self._tz)
            if bounds is None:
                # Sunday is not "closed" when Monday's overnight session opens on it.
                next_open = template.overnight and (day + timedelta(days=1)).weekday() < 5
                if not next_open:
                    parts.append(f"{day:%Y%m%d}:CLOSED")
                continue
            a, b = (x.astimezone(self._tz) for x in bounds)
            parts.append(f"{a:%Y%m%d:%H%M}-{b:%Y%m%d:%H%M}")
        return ";".join(parts)

    def trading_session(self, day: date) -> tuple[datetime, datetime] | None:
        """UTC bounds of trading day ``day``'s full (extended) session."""
        return self._trading.bounds(day, self._tz)

    def liquid_session(self, day: date) -> tuple[datetime, datetime] | None:
        """UTC bounds of trading day ``day``'s regular (liquid-hours) session."""
        return self._liquid.bounds(day, self._tz)

    def session_open(self, day: date) -> datetime | None:
        """Start of the regular (liquid-hours) session of trading day ``day``, UTC."""
        bounds = self.liquid_session(day)
        return bounds[0] if bounds else None

    def session_close(self, day: date) -> datetime | None:
        """End of the regular (liquid-hours) session of trading day ``day``, UTC."""
        bounds = self.liquid_session(day)
        return bounds[1] if bounds else None

    def trading_day(self, t: datetime, liquid: bool = False) -> date | None:
        """The trading day whose session contains ``t`` (start inclusive), or None."""
        template = self._liquid if liquid else self._trading
        local = t.astimezone(self._tz).date()
        for day in (local, local + timedelta(days=1)):
            bounds = template.bounds(day, self._tz)
            if bounds and bounds[0] <= t < bounds[1]:
                return day
        return None

    def is_trading(self, t: datetime) -> bool:
        return self.trading_day(t) is not None

    def is_liquid(self, t: datetime) -> bool:
        return self.trading_day(t, liquid=True) is not None


# YAML keys (IB's camelCase) -> Instrument field names.
_KEYS = {
    "symbol": "symbol",
    "secType": "sec_type",
    "exchange": "exchange",
    "primaryExchange": "primary_exchange",
    "currency": "currency",
    "conId": "con_id",
    "minTick": "min_tick",
    "timeZoneId": "time_zone_id",
    "longName": "long_name",
    "tradingHours": "trading_hours",
    "liquidHours": "liquid_hours",
    "shortable": "shortable",
    "spread": "spread",
    "localSymbol": "local_symbol",
}
_OPTIONAL = ("shortable", "spread", "localSymbol", "primaryExchange")
_REQUIRED = [k for k in _KEYS if k not in _OPTIONAL]
_TYPES: dict[str, type | tuple[type, ...]] = {
    "conId": int,
    "minTick": (int, float),
    "spread": (int, float),
    "shortable": bool,
}


class Instruments:
    """The set of known instruments, with IB-style contract matching."""

    def __init__(self, items: list[Instrument]) -> None:
        self._items = list(items)
        self._by_con_id = {i.con_id: i for i in self._items}

    @classmethod
    def load(cls, path: Path | str = DEFAULT_INSTRUMENTS_FILE) -> Instruments:
        path = Path(path)
        try:
            doc = yaml.safe_load(path.read_text())
        except OSError as e:
            raise InstrumentError(f"{path}: cannot read instruments file: {e}") from e
        except yaml.YAMLError as e:
            raise InstrumentError(f"{path}: not valid YAML: {e}") from e
        return cls.from_dict(doc, source=str(path))

    @classmethod
    def from_dict(cls, doc: Any, source: str = "<instruments>") -> Instruments:
        if not isinstance(doc, dict) or not isinstance(doc.get("instruments"), list):
            raise InstrumentError(f"{source}: expected a mapping with an 'instruments' list")
        defaults = doc.get("defaults") or {}
        if not isinstance(defaults, dict):
            raise InstrumentError(f"{source}: 'defaults' must map secType -> keys")
        items: list[Instrument] = []
        for n, entry in enumerate(doc["instruments"]):
            where = f"{source}: instruments[{n}]"
            if not isinstance(entry, dict):
                raise InstrumentError(f"{where}: expected a mapping, got {entry!r}")
            where += f" ({entry.get('symbol', '?')})"
            merged = {**(defaults.get(entry.get("secType")) or {}), **entry}
            items.append(_build(merged, where))
        _check_unique(items, source)
        return cls(items)

    def add(self, inst: Instrument) -> None:
        """One more instrument (the dry run learns them as the daemon qualifies contracts)."""
        if inst.con_id in self._by_con_id:
            raise ValueError(f"an instrument with conId {inst.con_id} is already known")
        self._items.append(inst)
        self._by_con_id[inst.con_id] = inst

    def __iter__(self) -> Iterator[Instrument]:
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def by_con_id(self, con_id: int) -> Instrument:
        try:
            return self._by_con_id[con_id]
        except KeyError:
            raise KeyError(f"no instrument with conId {con_id}") from None

    def by_symbol(self, symbol: str, sec_type: str | None = None) -> Instrument:
        """By symbol or local symbol ("EUR.USD"); KeyError if unknown or ambiguous."""
        found = [
            i
            for i in self._items
            if symbol in (i.symbol, i.local_symbol) and sec_type in (None, i.sec_type)
        ]
        if len(found) != 1:
            what = "ambiguous" if found else "unknown"
            raise KeyError(f"{what} symbol {symbol!r}" + (f" ({sec_type})" if sec_type else ""))
        return found[0]

    def match(self, contract: Contract) -> list[Instrument]:
        """IB's matching: by conId when given, else every non-empty field must agree.

        Exchange SMART (or the primary exchange) matches; primaryExchange is optional.
        """
        if contract.conId:
            inst = self._by_con_id.get(contract.conId)
            return [inst] if inst else []
        if not (contract.symbol or contract.localSymbol):
            return []
        return [i for i in self._items if _matches(i, contract)]


def _matches(i: Instrument, c: Contract) -> bool:
    checks = [
        (c.symbol, (i.symbol, i.local_symbol)),
        (c.localSymbol, (i.local_symbol,)),
        (c.secType, (i.sec_type,)),
        (c.currency, (i.currency,)),
        (c.exchange, (i.exchange, i.primary_exchange)),
        (c.primaryExchange, (i.primary_exchange,)),
    ]
    return all(not want or want.upper() in {h.upper() for h in have} for want, have in checks)


def _build(entry: dict[str, Any], where: str) -> Instrument:
    unknown = sorted(set(entry) - set(_KEYS))
    if unknown:
        raise InstrumentError(f"{where}: unknown key {unknown[0]!r} (known: {', '.join(_KEYS)})")
    for key in _REQUIRED:
        if entry.get(key) in (None, ""):
            raise InstrumentError(f"{where}: missing key {key!r}")
    for key, value in entry.items():
        want = _TYPES.get(key, str)
        if not isinstance(value, want) or (want is int and isinstance(value, bool)):
            raise InstrumentError(f"{where}: key {key!r} has a bad value {value!r}")
    if entry["secType"] not in ("STK", "CASH"):
        raise InstrumentError(f"{where}: key 'secType' must be STK or CASH")
    if entry["minTick"] <= 0:
        raise InstrumentError(f"{where}: key 'minTick' must be > 0")
    if entry.get("spread", entry["minTick"]) < entry["minTick"]:
        raise InstrumentError(f"{where}: key 'spread' must be >= minTick")
    try:
        ZoneInfo(entry["timeZoneId"])
    except (ZoneInfoNotFoundError, ValueError):
        raise InstrumentError(f"{where}: key 'timeZoneId' is not a known time zone") from None
    for key in ("tradingHours", "liquidHours"):
        try:
            SessionTemplate.parse(entry[key])
        except ValueError as e:
            raise InstrumentError(f"{where}: key {key!r}: {e}") from None
    entry.setdefault("primaryExchange", "")
    return Instrument(**{_KEYS[k]: v for k, v in entry.items()})


def _check_unique(items: list[Instrument], source: str) -> None:
    seen: dict[object, int] = {}
    for n, inst in enumerate(items):
        for key in (("conId", inst.con_id), ("localSymbol", inst.local_symbol, inst.sec_type)):
            if key in seen:
                raise InstrumentError(
                    f"{source}: instruments[{n}] ({inst.symbol}): duplicate {key[0]} {key[1]!r}"
                    f" (first in instruments[{seen[key]}])"
                )
            seen[key] = n
