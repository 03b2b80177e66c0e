"""The order side of the fake IB: the real ib_insync objects (Trade, OrderStatus,
TradeLogEntry, Execution, Fill, CommissionReport) and the real per-trade events in the order
ib_insync's wrapper emits them, so the executor sees what it would see from a connection."""

from __future__ import annotations

import copy
from dataclasses import replace
from datetime import datetime

from eventkit import Event
from ib_insync import (
    CommissionReport,
    Contract,
    Execution,
    Fill,
    Order,
    OrderStatus,
    Position,
    Trade,
    TradeLogEntry,
)


class FakeClient:
    def __init__(self) -> None:
        self._req_id = 100
        self.sent: list[tuple[object, ...]] = []

    def getReqId(self) -> int:
        self._req_id += 1
        return self._req_id

    def updateReqId(self, min_req_id: int) -> None:
        """As ib_insync's: the next getReqId is at least ``min_req_id``."""
        self._req_id = max(self._req_id, min_req_id - 1)

    def next_valid_id(self, order_id: int) -> None:
        """A nextValidId at connect (ib_insync resets its sequence, then takes it)."""
        self._req_id = order_id - 1

    def send(self, *fields: object) -> None:
        self.sent.append(fields)


class OrderSide:
    """Orders, executions and positions. Every message the real client would write is
    appended to ``client.sent``."""

    client: FakeClient
    now: datetime
    connected: bool

    def _setup_orders(self, client_id: int, account: str) -> None:
        self.client_id = client_id
        self.account = account
        self._trades: dict[int, Trade] = {}
        self._fills: dict[str, Fill] = {}
        self._positions: list[Position] = []
        self._perm = 5000
        self._exec = 0
        self.newOrderEvent = Event("newOrderEvent")

    # ---- the IB facade the executor uses ---------------------------------------------------

    def placeOrder(self, contract: Contract, order: Order) -> Trade:
        if not self.connected:
            raise ConnectionError("Not connected")
        order_id = order.orderId or self.client.getReqId()
        self.client.send("placeOrder", order_id, copy.copy(order))
        trade = self._trades.get(order_id)
        if trade:  # a modification, as ib.placeOrder does it
            assert trade.orderStatus.status not in OrderStatus.DoneStates
            trade.log.append(TradeLogEntry(self.now, trade.orderStatus.status, "Modify"))
            trade.modifyEvent.emit(trade)
            return trade
        order.clientId = self.client_id
        order.orderId = order_id
        status = OrderStatus(orderId=order_id, status=OrderStatus.PendingSubmit)
        trade = Trade(contract, order, status, [], [TradeLogEntry(self.now, status.status)])
        self._trades[order_id] = trade
        self.newOrderEvent.emit(trade)
        return trade

    def reqGlobalCancel(self) -> None:
        self.client.send("reqGlobalCancel")

    def cancelOrder(self, order: Order) -> Trade | None:
        if not self.connected:
            raise ConnectionError("Not connected")
        self.client.send("cancelOrder", order.orderId)
        trade = self._trades.get(order.orderId)
        if trade and not trade.isDone():
            trade.orderStatus.status = OrderStatus.PendingCancel
            trade.log.append(TradeLogEntry(self.now, OrderStatus.PendingCancel))
            trade.cancelEvent.emit(trade)
            trade.statusEvent.emit(trade)
        return trade

    def openTrades(self) -> list[Trade]:
        return [t for t in self._trades.values() if not t.isDone()]

    def trades(self) -> list[Trade]:
        return list(self._trades.values())

    def positions(self) -> list[Position]:
        return list(self._positions)

    async def reqExecutionsAsync(self, flt: object = None) -> list[Fill]:
        return list(self._fills.values())

    # ---- what the broker does (test controls) ----------------------------------------------

    def trade(self, order_id: int) -> Trade:
        return self._trades[order_id]

    def placed(self) -> list[Order]:
        """Orders as sent (copies at send time), modifications included."""
        return [f[2] for f in self.client.sent if f[0] == "placeOrder"]  # type: ignore[misc]

    def status(
        self,
        trade: Trade,
        status: str,
        *,
        error: int = 0,
        message: str = "",
        filled: float | None = None,
    ) -> None:
        """An orderStatus message (or an order error when ``error``), as the wrapper handles it."""
        old = trade.orderStatus.status
        if not trade.orderStatus.permId:
            self._perm += 1
            trade.orderStatus.permId = trade.order.permId = self._perm
        trade.orderStatus.status = status
        filled = trade.filled() if filled is None else filled
        trade.orderStatus.filled = filled
        trade.orderStatus.remaining = trade.order.totalQuantity - filled
        trade.log.append(TradeLogEntry(self.now, status, message, error))
        trade.statusEvent.emit(trade)
        if status != old and status == OrderStatus.Filled:
            trade.filledEvent.emit(trade)
        elif status != old and status == OrderStatus.Cancelled:
            trade.cancelledEvent.emit(trade)

    def ack(self, trade: Trade) -> None:
        self.status(trade, OrderStatus.Submitted)

    def execute(
        self,
        trade: Trade,
        qty: float,
        price: float,
        *,
        exec_id: str | None = None,
        live: bool = True,
    ) -> Fill:
        """An execDetails for ``trade``; ``live=False`` stores it as if it happened while away."""
        self._exec += 1
        exec_id = exec_id or f"0000e0d5.{self._exec:08x}.01.01"
        o = trade.order
        if not o.permId:
            self._perm += 1
            o.permId = trade.orderStatus.permId = self._perm
        ex = Execution(
            execId=exec_id,
            time=self.now,
            acctNumber=self.account,
            exchange="NASDAQ",
            side="BOT" if o.action == "BUY" else "SLD",
            shares=qty,
            price=price,
            permId=o.permId,
            clientId=self.client_id,
            orderId=o.orderId,
            cumQty=trade.filled() + qty,
            avgPrice=price,
            orderRef=o.orderRef,
        )
        fill = Fill(trade.contract, ex, CommissionReport(), self.now)
        if exec_id in self._fills:  # ib_insync drops a repeated execId; tests send it anyway
            fill = self._fills[exec_id]
        self._fills[exec_id] = fill
        if live:
            if fill not in trade.fills:
                trade.fills.append(fill)
            trade.fillEvent.emit(trade, fill)
        return fill

    def commission(self, trade: Trade, fill: Fill, amount: float, pnl: float = 0.0) -> None:
        report = CommissionReport(fill.execution.execId, amount, "USD", pnl)
        for k, v in vars(report).items():
            setattr(fill.commissionReport, k, v)
        trade.commissionReportEvent.emit(trade, fill, fill.commissionReport)

    def fill(self, trade: Trade, qty: float | None = None, price: float = 100.0) -> Fill:
        """Execution + commission + status, the usual order of a live fill."""
        qty = trade.remaining() if qty is None else qty
        f = self.execute(trade, qty, price)
        self.commission(trade, f, 1.0)
        done = trade.filled() >= trade.order.totalQuantity
        self.status(trade, OrderStatus.Filled if done else OrderStatus.Submitted)
        return f

    def reconnect(self) -> None:
        """What ib_insync holds after a reconnect: fresh Trade objects for the open orders."""
        fresh: dict[int, Trade] = {}
        for oid, t in self._trades.items():
            order = replace(t.order)
            fresh[oid] = Trade(t.contract, order, replace(t.orderStatus), [], [])
        self._trades = fresh
        self.client.sent.clear()

    def set_position(self, contract: Contract, qty: float) -> None:
        self._positions.append(Position(self.account, contract, qty, 0.0))
