"""What a strategy may know: its ``StrategyContext``, backed by the engine's state.

Positions and P&L come from the portfolio (bot/portfolio/book.py), working orders from the
executor, indicator values from the engine's ``IndicatorSet``s, tick sizes and sessions from IB's
contract details, sizing from the strategy's config, and time from the last event the engine
routed (never the wall clock).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from bot.model.events import WorkingOrder
from bot.model.price_grid import round_to_tick
from bot.portfolio.book import Portfolio
from bot.strategy.indicators import IndicatorSet, IndicatorSpec

log = logging.getLogger(__name__)


# ---- contracts and sessions ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SymbolInfo:
    """One qualified contract with the contract-details facts the bot uses."""

    symbol: str
    contract: Any  # ib_insync.Contract (qualified)
    min_tick: float
    tz: tzinfo
    sessions: tuple[tuple[datetime, datetime], ...] = ()  # liquid hours, UTC, ascending
    # The ib_insync.ContractDetails it came from (a dry run simulates the contract from it).
    details: Any = field(default=None, compare=False, repr=False)

    @classmethod
    def from_details(cls, symbol: str, details: Any) -> SymbolInfo:
        """From an ``ib_insync.ContractDetails``."""
        tz = zone(details.timeZoneId)
        return cls(
            symbol=symbol,
            contract=details.contract,
            min_tick=float(details.minTick or 0.0),
            tz=tz,
            sessions=parse_sessions(details.liquidHours or "", tz),
            details=details,
        )


_TZ_ALIASES = {"EST": "US/Eastern", "EST5EDT": "US/Eastern", "CST": "US/Central", "MET": "CET"}


def zone(tz_id: str) -> tzinfo:
    """The tz of an IB timeZoneId ("US/Eastern", or IB's short forms such as "EST")."""
    name = _TZ_ALIASES.get(tz_id, tz_id) or "UTC"
    try:
        return ZoneInfo(name)
    except (KeyError, ValueError):
        log.warning("unknown timeZoneId %r, using UTC", tz_id)
        return UTC


def parse_sessions(hours: str, tz: tzinfo) -> tuple[tuple[datetime, datetime], ...]:
    """IB's "20261124:0930-20261124:1600;20261125:CLOSED" (or the older "20261124:0930-1600")
    -> (open, close) pairs in UTC, ascending. Malformed parts are skipped."""
    out: list[tuple[datetime, datetime]] = []
    for part in hours.split(";"):
        part = part.strip()
        if not part or part.endswith("CLOSED") or "-" not in part:
            continue
        a, b = part.split("-", 1)
        try:
            start = _local(a, tz)
            end = _local(b if ":" in b else f"{a.split(':')[0]}:{b}", tz)
        except ValueError:
            continue
        out.append((start, end))
    out.sort()
    return tuple(out)


def _local(s: str, tz: tzinfo) -> datetime:
    naive = datetime.strptime(s.strip(), "%Y%m%d:%H%M")
    return naive.replace(tzinfo=tz).astimezone(UTC)


def session_open(info: SymbolInfo, day: datetime | date) -> datetime | None:
    """Open (UTC) of the liquid session on ``day``'s exchange date; an overnight session that
    opened the evening before counts for the date it closes on.

    IB sends about a week of sessions from today; for other weekdays (the warm-up's past days,
    a run longer than a week) the open is the known sessions' local open time on that date. It
    does not know holidays, but a day with bars had a session."""
    if isinstance(day, datetime):
        d = (day if day.tzinfo else day.replace(tzinfo=UTC)).astimezone(info.tz).date()
    else:
        d = day
    closing: datetime | None = None
    for start, end in info.sessions:
        if start.astimezone(info.tz).date() == d:
            return start
        if closing is None and end.astimezone(info.tz).date() == d:
            closing = start
    if closing is not None or not info.sessions:
        return closing
    start, end = (t.astimezone(info.tz) for t in info.sessions[0])
    last = info.sessions[-1][1].astimezone(info.tz).date()
    if end.date() <= d <= last or d.weekday() >= 5:
        return None  # a closed day among the sessions IB sent, or a weekend
    opened_before = end.date() - start.date()  # an overnight session opens the day before
    return datetime.combine(d - opened_before, start.time(), info.tz).astimezone(UTC)


def next_trading_day(infos: Iterable[SymbolInfo], now: datetime) -> datetime | None:
    """Start (UTC) of the first exchange trading day after the one ``now`` falls in, over
    several contracts the earliest; None without contracts.

    A contract's trading day is the exchange date its session closes on (an overnight session
    opening this evening is tomorrow's); the next one starts with the first session that opens
    after ``now`` and closes on a later date. Past the sessions IB sent (about a week), the
    exchange midnight after the current day.
    """
    out: datetime | None = None
    for info in infos:
        today = now.astimezone(info.tz).date()
        for a, b in info.sessions:
            if a <= now < b:
                today = max(today, b.astimezone(info.tz).date())
        start = next(
            (a for a, b in info.sessions if a > now and b.astimezone(info.tz).date() > today),
            None,
        )
        if start is None:
            start = datetime.combine(today + timedelta(days=1), time(), info.tz).astimezone(UTC)
        if out is None or start < out:
            out = start
    return out


# ---- the context --------------------------------------------------------------------------------


class PositionsAndOrders(Protocol):
    """The executor's view of a strategy's own position and working orders."""

    def position(self, strategy_id: str, symbol: str) -> float: ...

    def working_orders(self, strategy_id: str, symbol: str) -> Mapping[str, WorkingOrder]: ...


class SizingLike(Protocol):
    @property
    def fixed(self) -> int | None: ...
    @property
    def capital(self) -> float | None: ...
    @property
    def percent_nlv(self) -> float | None: ...


class EngineContext:
    """``bot.strategy.api.StrategyContext`` for one strategy instance."""

    __slots__ = (
        "_book",
        "_clock",
        "_ib_pnl",
        "_infos",
        "_nlv",
        "_orders",
        "_pnl",
        "_sets",
        "_sizing",
        "_specs",
        "_strategy_id",
        "_symbols",
    )

    def __init__(
        self,
        strategy_id: str,
        symbols: tuple[str, ...],
        *,
        orders: PositionsAndOrders,
        infos: Mapping[str, SymbolInfo],
        sizing: SizingLike,
        clock: Callable[[], datetime],
        net_liquidation: Callable[[], float | None],
        pnl: Portfolio | None = None,
        ib_pnl: Callable[[Iterable[str]], float | None] = lambda _symbols: None,
    ) -> None:
        self._strategy_id = strategy_id
        self._symbols = symbols
        self._orders = orders
        self._infos = infos
        self._sizing = sizing
        self._clock = clock
        self._nlv = net_liquidation
        self._pnl = pnl
        self._ib_pnl = ib_pnl
        self._sets: dict[str, IndicatorSet] = {}
        self._specs: dict[str, IndicatorSpec] = {}

    def bind_indicators(
        self, specs: Mapping[str, IndicatorSpec], sets: Mapping[str, IndicatorSet]
    ) -> None:
        """The strategy's declared indicators by name, and the set of each of its symbols."""
        self._specs = dict(specs)
        self._sets = dict(sets)

    def indicator_sets(self) -> dict[str, IndicatorSet]:
        """A copy of the indicator set of each of its symbols."""
        return dict(self._sets)

    def set_symbols(self, symbols: tuple[str, ...], sets: Mapping[str, IndicatorSet]) -> None:
        """A new symbol list (a daily scan's), with the indicator set of each."""
        self._symbols = tuple(symbols)
        self._sets = dict(sets)

    @property
    def strategy_id(self) -> str:
        return self._strategy_id

    @property
    def symbols(self) -> tuple[str, ...]:
        return self._symbols

    def now(self) -> datetime:
        return self._clock()

    def position(self, symbol: str) -> float:
        return self._orders.position(self._strategy_id, symbol)

    def working_orders(self, symbol: str) -> Mapping[str, WorkingOrder]:
        return self._orders.working_orders(self._strategy_id, symbol)

    def indicator(self, symbol: str, name: str, ago: int = 0) -> Any:
        try:
            spec = self._specs[name]
        except KeyError:
            known = ", ".join(sorted(self._specs)) or "none"
            raise KeyError(
                f"{self._strategy_id}: no indicator {name!r} declared (declared: {known})"
            ) from None
        try:
            iset = self._sets[symbol]
        except KeyError:
            raise KeyError(f"{self._strategy_id}: {symbol!r} is not one of its symbols") from None
        return iset.value(spec, ago)

    def round_to_tick(self, symbol: str, price: float) -> float:
        return round_to_tick(price, self._infos[symbol].min_tick)

    def quantity_for(self, symbol: str, price: float) -> int:
        s = self._sizing
        if s.fixed is not None:
            return int(s.fixed)
        if not price > 0 or math.isinf(price):
            return 0
        if s.capital is not None:
            return int(s.capital // price)
        if s.percent_nlv is not None:
            nlv = self._nlv()
            if nlv is None or not nlv > 0:
                log.warning("%s: NetLiquidation unknown; sizing %s to 0", self._strategy_id, symbol)
                return 0
            return int(nlv * s.percent_nlv / 100.0 // price)
        return 0

    def session_open(self, symbol: str, day: datetime) -> datetime | None:
        return session_open(self._infos[symbol], day)

    def pnl_today(self) -> float:
        return 0.0 if self._pnl is None else self._pnl.today(self._strategy_id)

    def ib_pnl_today(self, symbols: Iterable[str] | None = None) -> float | None:
        return self._ib_pnl(self._symbols if symbols is None else symbols)
