"""The strategy API: a strategy is pure decision code over bars, ticks and fills.

It declares typed parameters (a pydantic model) and indicators; the engine keeps the
indicators up to date and calls the handlers, which return order intents. A strategy never
talks to ib_insync: everything it may know comes through its ``StrategyContext``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any, ClassVar, Generic, Protocol, TypeVar

from pydantic import BaseModel, ConfigDict

from bot.model.events import Bar, FillEvent, OrderIntent, Rejection, Tick, WorkingOrder
from bot.strategy.indicators.base import IndicatorSpec


class NoParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


P = TypeVar("P", bound=BaseModel)


class StrategyContext(Protocol):
    """What the engine lets a strategy see. Time comes from events, never the wall clock."""

    @property
    def strategy_id(self) -> str: ...

    @property
    def symbols(self) -> tuple[str, ...]: ...

    def now(self) -> datetime: ...

    def position(self, symbol: str) -> float: ...

    def working_orders(self, symbol: str) -> Mapping[str, WorkingOrder]: ...

    def indicator(self, symbol: str, name: str, ago: int = 0) -> Any:
        """The declared indicator's value ``ago`` closed bars back (NaN while warming up)."""
        ...

    def round_to_tick(self, symbol: str, price: float) -> float: ...

    def quantity_for(self, symbol: str, price: float) -> int:
        """Whole shares the strategy's configured sizing allows at ``price`` (0: skip)."""
        ...

    def session_open(self, symbol: str, day: datetime) -> datetime | None:
        """Start of the regular (liquid-hours) session on ``day``'s exchange date, UTC."""
        ...

    def pnl_today(self) -> float:
        """The strategy's realized plus unrealized P&L since the start of the exchange day."""
        ...

    def ib_pnl_today(self, symbols: Iterable[str] | None = None) -> float | None:
        """IB's own daily P&L (``reqPnLSingle``) summed over ``symbols`` (default: the
        strategy's); None where IB has not reported (yet) or there is no IB (a backtest)."""
        ...


Intents = Iterable[OrderIntent]


class Strategy(Generic[P]):
    """Base class. Subclasses set ``Params`` and override the handlers they need."""

    name: ClassVar[str] = ""
    Params: ClassVar[type[BaseModel]] = NoParams

    def __init__(self, ctx: StrategyContext, params: P) -> None:
        self.ctx = ctx
        self.params = params

    @classmethod
    def risk_limits(cls, params: Any) -> Mapping[str, Any]:
        """Limits its params ask of the risk stage (keys of ``strategies[i].risk``, e.g. a
        daily P&L kill): merged into its ``risk:`` at config load, keys set there winning.
        The risk stage enforces them; the strategy never polices itself."""
        return {}

    def indicators(self) -> Mapping[str, IndicatorSpec]:
        return {}

    def wants_ticks(self) -> bool:
        return False

    def tick_type(self) -> str | None:
        """The ``reqTickByTickData`` type its ticks should be ("AllLast", "BidAsk", ...) unless
        the config's ``ticks`` says otherwise; None: IB market data."""
        return None

    def on_start(self) -> Intents:
        return ()

    def on_warmup_bar(self, bar: Bar) -> None:
        """A closed historical bar from the warm-up (indicators already updated): keep state
        such as previous days' volume here; intents are not possible."""

    def on_bar(self, bar: Bar) -> Intents:
        return ()

    def on_tick(self, tick: Tick) -> Intents:
        return ()

    def on_fill(self, fill: FillEvent) -> Intents:
        return ()

    def on_rejection(self, rejection: Rejection) -> Intents:
        """One of its intents was refused (by the risk stage, the executor or IB), with the
        reason; it may answer with other intents (a smaller order, a cancel)."""
        return ()

    def on_stop(self) -> Intents:
        return ()
