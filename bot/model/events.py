"""The bot's vocabulary: market events in, order intents out, fills back.

Strategies see only these types; they never touch ib_insync objects, so the same
strategy runs against IB, the simulated gateway and the in-process backtester.
All times are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Literal, TypeAlias


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"

    @property
    def sign(self) -> int:
        return 1 if self is Side.BUY else -1

    @property
    def opposite(self) -> Side:
        return Side.SELL if self is Side.BUY else Side.BUY


class OrderType(StrEnum):
    MARKET = "MKT"
    LIMIT = "LMT"
    STOP = "STP"
    STOP_LIMIT = "STP LMT"
    TRAIL = "TRAIL"
    MARKET_ON_CLOSE = "MOC"
    LIMIT_ON_CLOSE = "LOC"
    MARKET_IF_TOUCHED = "MIT"


@dataclass(frozen=True, slots=True)
class Bar:
    """A closed bar. ``time`` is the bar's start; ``size_s`` its length in seconds."""

    symbol: str
    time: datetime
    open: float
    high: float
    low: float
    close: float
    volume: float
    size_s: int

    @property
    def end(self) -> datetime:
        from datetime import timedelta

        return self.time + timedelta(seconds=self.size_s)


@dataclass(frozen=True, slots=True)
class Tick:
    """A top-of-book and last-trade snapshot; NaN where the feed has no value yet.

    Tick-by-tick data fills only what its kind carries: AllLast/Last a trade (``last``,
    ``last_size``), BidAsk the quote, MidPoint ``midpoint``."""

    symbol: str
    time: datetime
    bid: float
    ask: float
    last: float
    bid_size: float = float("nan")
    ask_size: float = float("nan")
    last_size: float = float("nan")
    midpoint: float = float("nan")


@dataclass(frozen=True, slots=True)
class OrderSpec:
    """One order leg as a strategy describes it; the executor turns it into an ib_insync Order.

    ``stop_price`` is the trigger of STP, STP LMT and MIT orders and the initial stop of TRAIL;
    ``tif`` and ``outside_rth`` fall back to the executor's configured defaults when None.
    """

    action: Side
    quantity: float
    order_type: OrderType = OrderType.MARKET
    limit_price: float | None = None
    stop_price: float | None = None
    trail_amount: float | None = None
    trail_percent: float | None = None
    tif: str | None = None
    outside_rth: bool | None = None


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    """Send one order. ``tag`` names it among the strategy's working orders on ``symbol``."""

    symbol: str
    order: OrderSpec
    tag: str = "entry"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class PlaceBracket:
    """Entry plus optional take-profit and stop-loss children (parentId, OCA, transmit flags).

    The children are tagged ``f"{tag}.tp"`` and ``f"{tag}.sl"``.
    """

    symbol: str
    entry: OrderSpec
    take_profit: OrderSpec | None = None
    stop_loss: OrderSpec | None = None
    tag: str = "bracket"
    reason: str = ""


@dataclass(frozen=True, slots=True)
class ModifyOrder:
    """Change a working order in place (same orderId); None leaves a field as it is."""

    symbol: str
    tag: str
    quantity: float | None = None
    limit_price: float | None = None
    stop_price: float | None = None
    trail_amount: float | None = None
    reason: str = ""


@dataclass(frozen=True, slots=True)
class CancelOrder:
    symbol: str
    tag: str
    reason: str = ""


@dataclass(frozen=True, slots=True)
class TargetPosition:
    """Trade the market quantity that takes the strategy's position on a symbol to ``quantity``."""

    symbol: str
    quantity: float
    reason: str = ""


@dataclass(frozen=True, slots=True)
class KillSwitch:
    """Stop trading: the risk stage halts new entries, cancels every working order and flattens.

    ``scope="strategy"`` halts the strategy that returned it; ``"all"`` every strategy (what the
    operator's kill does). Strategies and the operator trigger the same code path.
    """

    reason: str
    scope: Literal["strategy", "all"] = "strategy"


OrderIntent: TypeAlias = (
    PlaceOrder | PlaceBracket | ModifyOrder | CancelOrder | TargetPosition | KillSwitch
)


@dataclass(frozen=True, slots=True)
class FillEvent:
    """An execution of one of the strategy's own orders, routed back to it."""

    symbol: str
    tag: str
    side: Side
    quantity: float
    price: float
    commission: float
    time: datetime
    order_id: int
    exec_id: str


@dataclass(frozen=True, slots=True)
class WorkingOrder:
    """What a strategy sees of one of its orders that is still working at the broker."""

    symbol: str
    tag: str
    order_id: int
    spec: OrderSpec
    filled: float
    status: str


@dataclass(frozen=True, slots=True)
class Rejection:
    """An intent the risk stage or the broker refused, with the reason an operator can act on."""

    strategy_id: str
    intent: OrderIntent
    reason: str
    time: datetime
