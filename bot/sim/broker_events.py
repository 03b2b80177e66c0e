"""What the simulated broker reports: events after each action, and read-only records.

The gateway turns each event into the TWS messages IB would send (orderStatus, openOrder,
execDetails + commissionReport, error); the backtester consumes them directly. The ib_insync
objects inside are copies owned by the receiver.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple, TypeAlias

from ib_insync import CommissionReport, Contract, Execution, Order, OrderState


@dataclass(frozen=True, slots=True)
class OrderStatusEvent:
    """An order's status changed, or it filled some more (IB sends orderStatus then)."""

    account: str
    client_id: int
    order_id: int
    perm_id: int
    contract: Contract
    order: Order
    status: str  # PreSubmitted | Submitted | Filled | Cancelled | Inactive
    filled: float
    remaining: float
    avg_fill_price: float
    last_fill_price: float
    parent_id: int
    why_held: str = ""


@dataclass(frozen=True, slots=True)
class ExecutionEvent:
    """One execution (execDetails) with its commission report."""

    account: str
    client_id: int
    contract: Contract
    execution: Execution
    commission_report: CommissionReport
    order: Order


@dataclass(frozen=True, slots=True)
class OrderErrorEvent:
    """An IB error/notice about an order: 201 reject, 202 cancelled, 110, 103, 10147 ..."""

    account: str
    client_id: int
    order_id: int
    code: int
    text: str


BrokerEvent: TypeAlias = OrderStatusEvent | ExecutionEvent | OrderErrorEvent


@dataclass(frozen=True, slots=True)
class OrderSnapshot:
    """An order as reqOpenOrders / reqCompletedOrders show it."""

    account: str
    client_id: int
    contract: Contract
    order: Order
    order_state: OrderState
    status: str
    filled: float
    remaining: float
    avg_fill_price: float
    last_fill_price: float
    why_held: str = ""


@dataclass(frozen=True, slots=True)
class ExecutionRecord:
    """One execution as reqExecutions returns it."""

    account: str
    client_id: int
    contract: Contract
    execution: Execution
    commission_report: CommissionReport


@dataclass(frozen=True, slots=True)
class PortfolioRow:
    """One position valued at the last mark (updatePortfolio)."""

    contract: Contract
    position: float
    market_price: float
    market_value: float
    avg_cost: float
    unrealized: float
    realized: float


class PositionRow(NamedTuple):
    """reqPositions: (contract, position, avg_cost); avg_cost includes commissions, as at IB."""

    contract: Contract
    position: float
    avg_cost: float


class PnL(NamedTuple):
    """reqPnL: the account's daily, unrealized and realized PnL (a tuple, as INTERFACES says)."""

    daily: float
    unrealized: float
    realized: float


class PnLSingle(NamedTuple):
    """reqPnLSingle: one position's PnL; ``value`` is position x mark."""

    position: float
    daily: float
    unrealized: float
    realized: float
    value: float
