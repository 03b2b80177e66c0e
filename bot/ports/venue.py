"""The ports: how the daemon's strategies, risk and executor reach a venue.

Nothing behind these Protocols knows which venue it talks to. Adapters (bot/venues/):

| port | IB (live, paper, the simulated gateway) | Sim (in-process: backtests) |
|---|---|---|
| ``BrokerPort`` | ``bot.venues.ib.IbBroker`` (ib_insync) | ``bot.venues.sim.SimBrokerAdapter`` |
| ``PriceFedBroker`` | (the dry run, over IB's prices) | ``bot.venues.dry_run.DryRunBroker`` |
| ``BarSource`` | ``bot.market_data.ib_feed.Feed`` (ib_insync subscriptions) |
``bot.venues.sim_feed.SimFeed`` |
| ``Venue`` | ``bot.venues.ib.IbVenue`` | ``bot.venues.sim.SimVenue`` |

ib_insync's ``Contract``, ``Order``, ``Trade``, ``Fill`` and ``Position`` are the shared types
(ARCHITECTURE.md: no look-alikes): a broker adapter hands out ``Trade`` objects and drives
their ``statusEvent`` / ``fillEvent`` / ``commissionReportEvent`` the way ib_insync does.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from eventkit import Event

from bot.client.ib import Contract, ContractDetails, Fill, Order, Position, Trade

if TYPE_CHECKING:
    from bot.config.strategies import ScannerConfig


class ScanFailed(Exception):
    """The scanner answered with an error, or not in time."""


@dataclass(frozen=True, slots=True)
class ScanRow:
    """One row of a scan: the contract IB returned, and what it said about it."""

    rank: int
    symbol: str
    sec_type: str
    currency: str
    con_id: int
    note: str = ""  # distance / benchmark / projection, as IB sent them (often empty)


class BrokerPort(Protocol):
    """Orders in, order states and executions out (through each Trade's events).

    ``forget`` drops finished Trades the bot has journalled (bot/orders/pruning.py); an
    execution or commission report that arrives later for one of them, or for any order the
    adapter does not follow, comes out of ``unbound_fill_event`` (Fill) /
    ``unbound_commission_event`` (CommissionReport) instead of being lost.
    """

    unbound_fill_event: Event
    unbound_commission_event: Event

    def forget(self, trades: Collection[Trade]) -> None:
        """Stop following these finished Trades: drop every reference the venue keeps."""
        ...

    def place_order(self, contract: Contract, order: Order) -> Trade:
        """A new order, or a modify when ``order.orderId`` is still working."""
        ...

    def cancel_order(self, order: Order) -> None: ...

    def global_cancel(self) -> None:
        """Cancel every open order of the account (reqGlobalCancel)."""
        ...

    def next_order_id(self) -> int: ...

    async def executions(self) -> list[Fill]:
        """Today's executions of the account (reqExecutions), for reconcile."""
        ...

    def open_trades(self) -> list[Trade]: ...

    def trades(self) -> list[Trade]: ...

    def positions(self) -> list[Position]: ...


@runtime_checkable
class PriceFedBroker(BrokerPort, Protocol):
    """A simulated broker trading at the prices the daemon sees (the dry run): the executor
    hands it every contract, bar and price it learns."""

    def add_contract(
        self, contract: Contract, min_tick: float, details: ContractDetails | None
    ) -> None: ...

    def on_bar(
        self, contract: Contract, open_: float, high: float, low: float, close: float,
        end: datetime,
    ) -> None: ...  # fmt: skip

    def on_price(self, contract: Contract, price: float, time: datetime) -> None: ...


class BarSource(Protocol):
    """Bar streams and ticks per (contract, bar spec): warm-up history, then closed bars."""

    last_price: dict[str, float]
    clock_listeners: list[Callable[[datetime], None]]
    warmup_bars: int
    tick_by_tick: dict[str, str]  # symbol -> reqTickByTickData type; absent: market data

    @property
    def streams(self) -> Mapping[Any, Any]: ...

    def add_bars(
        self,
        symbol: str,
        contract: Contract,
        tz: tzinfo,
        *,
        bar_size: str,
        size_s: int,
        what_to_show: str,
        use_rth: bool,
        warmup: str,
        source: str = ...,
    ) -> Any: ...

    def add_ticks(self, symbol: str, contract: Contract) -> None: ...

    def add_tick_by_tick(self, symbol: str, contract: Contract, what: str) -> None: ...

    def remove_bars(self, key: Any) -> None: ...

    def remove_ticks(self, symbol: str) -> None: ...

    async def start(self) -> None: ...

    async def start_streams(self, keys: list[Any]) -> None: ...

    def stop(self) -> None: ...

    def contracts(self) -> list[Contract]: ...

    def stats(self) -> dict[str, Any]: ...


class Venue(Protocol):
    """What the daemon asks a venue besides orders and bars."""

    def connected(self) -> bool: ...

    async def current_time(self) -> datetime: ...

    async def contract_details(self, contract: Contract) -> list[ContractDetails]: ...

    async def scan(self, cfg: ScannerConfig, timeout: float) -> list[ScanRow]:
        """One market scan, its top ``cfg.top`` rows; raises ScanFailed."""
        ...

    def net_liquidation(self, account: str) -> float | None: ...
