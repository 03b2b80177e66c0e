"""The Sim adapters of the broker port and the venue port: the simulated world in-process.

``SimBrokerAdapter`` hands out the client library's ``Trade`` objects and keeps them up to date
from the SimBroker's events exactly as ib_insync's client keeps them up to date from the
simulated gateway's messages (``IB.placeOrder`` / ``cancelOrder`` and ``Wrapper.orderStatus`` /
``execDetails`` / ``commissionReport`` / ``error``, read from ib_insync 0.9.86), so the
executor cannot tell the two apart. The world keeps ib_insync's data classes; what crosses to
the client is the selected client library's (``bot.client.ib.from_sim`` / ``to_sim``). Events
are queued and handed over by ``deliver()``, as a socket would hand them over after the call
that caused them has returned: the backtester delivers at the end of each simulated step, where
the gateway's client would read them.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection
from datetime import datetime

from eventkit import Event

from bot.client.ib import (
    CommissionReport,
    Contract,
    ContractDetails,
    Execution,
    Fill,
    Order,
    OrderStatus,
    Position,
    ScannerSubscription,
    Trade,
    TradeLogEntry,
    from_sim,
    to_sim,
)
from bot.config.strategies import ScannerConfig
from bot.model.ib_errors import is_warning
from bot.ports.venue import ScanFailed, ScanRow
from bot.sim.broker_events import (
    BrokerEvent,
    ExecutionEvent,
    OrderErrorEvent,
    OrderStatusEvent,
)
from bot.sim.scanner import ScanError
from bot.sim.world import SimWorld
from bot.trading.daily_scan import subscription


class SimBrokerAdapter:
    """``BrokerPort`` over the world's SimBroker, for one account and client id."""

    def __init__(
        self,
        world: SimWorld,
        account: str,
        *,
        client_id: int = 1,
        exec_id: Callable[[Execution], str] | None = None,
    ) -> None:
        """``exec_id``: the id to report for an execution instead of the broker's own."""
        self.world = world
        self._exec_id = exec_id
        self.account = account
        self.client_id = client_id
        self._trades: dict[int, Trade] = {}  # by orderId
        self._fills: dict[str, Fill] = {}  # by execId, as ib_insync keeps them
        self._pending: list[BrokerEvent] = []
        self._next_id = 1
        self.on_pending: Callable[[], None] | None = None  # events queued: ask for deliver()
        self.unbound_fill_event = Event("unbound_fill_event")
        self.unbound_commission_event = Event("unbound_commission_event")

    # ---- BrokerPort ---------------------------------------------------------------------

    def place_order(self, contract: Contract, order: Order) -> Trade:
        now = self.world.clock.now()
        order_id = order.orderId or self.next_order_id()
        trade = self._trades.get(order_id)
        if trade is not None:
            trade.log.append(TradeLogEntry(now, trade.orderStatus.status, "Modify"))
            trade.modifyEvent.emit(trade)
        else:
            order.clientId, order.orderId = self.client_id, order_id
            status = OrderStatus(orderId=order_id, status=OrderStatus.PendingSubmit)
            trade = Trade(contract, order, status, [], [TradeLogEntry(now, status.status)])
            self._trades[order_id] = trade
            self._next_id = max(self._next_id, order_id + 1)
        routed = self.world.instruments.by_con_id(contract.conId).contract()
        routed.exchange = contract.exchange or routed.exchange
        order.account = order.account or self.account
        # A copy, as the wire would make: the broker keeps what it was sent, and a later
        # modify of the caller's Order must reach it as a new request.
        sent = copy.copy(to_sim(order))
        self._queue(self.world.broker.place_order(order.account, self.client_id, routed, sent, now))
        return trade

    def cancel_order(self, order: Order) -> None:
        now = self.world.clock.now()
        trade = self._trades.get(order.orderId)
        if trade is not None and not trade.isDone():
            st = trade.orderStatus.status
            pending_hold = st == OrderStatus.PendingSubmit and not order.transmit
            new = (
                OrderStatus.Cancelled
                if pending_hold or st == OrderStatus.Inactive
                else OrderStatus.PendingCancel
            )
            trade.log.append(TradeLogEntry(now, new))
            trade.orderStatus.status = new
            trade.cancelEvent.emit(trade)
            trade.statusEvent.emit(trade)
            if new == OrderStatus.Cancelled:
                trade.cancelledEvent.emit(trade)
        broker = self.world.broker
        self._queue(broker.cancel_order(self.account, self.client_id, order.orderId, now))

    def global_cancel(self) -> None:
        self._queue(self.world.broker.global_cancel(self.account, self.world.clock.now()))

    def next_order_id(self) -> int:
        order_id = self._next_id
        self._next_id += 1
        return order_id

    async def executions(self) -> list[Fill]:
        """The executions of the Trades not forgotten (a forgotten one's are journalled)."""
        return list(self._fills.values())

    def forget(self, trades: Collection[Trade]) -> None:
        for trade in trades:
            if self._trades.get(trade.order.orderId) is trade:
                del self._trades[trade.order.orderId]
            for fill in trade.fills:
                self._fills.pop(fill.execution.execId, None)

    def open_trades(self) -> list[Trade]:
        return [t for t in self._trades.values() if not t.isDone()]

    def trades(self) -> list[Trade]:
        return list(self._trades.values())

    def positions(self) -> list[Position]:
        return [
            Position(self.account, from_sim(row.contract), row.position, row.avg_cost)
            for row in self.world.broker.account(self.account).position_rows()
        ]

    # ---- events -------------------------------------------------------------------------

    @property
    def pending(self) -> bool:
        return bool(self._pending)

    def take(self, events: list[BrokerEvent]) -> None:
        """Events of the world's own step (fills of working orders, expiries)."""
        self._queue(events)

    def deliver(self) -> None:
        """Hand every queued event to its Trade, in order (more may queue meanwhile: a
        strategy answering a fill with an order; they are delivered in the same call)."""
        while self._pending:
            batch, self._pending = self._pending, []
            for ev in batch:
                if isinstance(ev, OrderStatusEvent):
                    self._status(ev)
                elif isinstance(ev, ExecutionEvent):
                    self._execution(ev)
                elif isinstance(ev, OrderErrorEvent):
                    self._error(ev)

    def _queue(self, events: list[BrokerEvent]) -> None:
        mine = [e for e in events if e.account == self.account and e.client_id == self.client_id]
        if mine:
            self._pending.extend(mine)
            if self.on_pending is not None:
                self.on_pending()

    def _status(self, ev: OrderStatusEvent) -> None:
        trade = self._trades.get(ev.order_id)
        if trade is None:
            return
        trade.order.permId = ev.perm_id
        st = trade.orderStatus
        old = st.status
        new = (ev.status, ev.filled, ev.remaining, ev.avg_fill_price, ev.perm_id, ev.parent_id,
               ev.last_fill_price, ev.client_id, ev.why_held)  # fmt: skip
        cur = (st.status, st.filled, st.remaining, st.avgFillPrice, st.permId, st.parentId,
               st.lastFillPrice, st.clientId, st.whyHeld)  # fmt: skip
        if new != cur:
            (st.status, st.filled, st.remaining, st.avgFillPrice, st.permId, st.parentId,
             st.lastFillPrice, st.clientId, st.whyHeld) = new  # fmt: skip
            msg: str | None = ""
        elif ev.status == OrderStatus.Submitted and trade.log and trade.log[-1].message == "Modify":
            msg = "Modified"
        else:
            msg = None
        if msg is None:
            return
        trade.log.append(TradeLogEntry(self.world.clock.now(), ev.status, msg))
        trade.statusEvent.emit(trade)
        if ev.status != old:
            if ev.status == OrderStatus.Filled:
                trade.filledEvent.emit(trade)
            elif ev.status == OrderStatus.Cancelled:
                trade.cancelledEvent.emit(trade)

    def _execution(self, ev: ExecutionEvent) -> None:
        # A copy, as the wire would make, in IB's whole seconds ("yyyymmdd hh:mm:ss").
        ex = copy.copy(from_sim(ev.execution))
        ex.time = ex.time.replace(microsecond=0)
        if self._exec_id is not None:
            ex.execId = self._exec_id(ex)
        if ex.execId in self._fills:
            return
        trade = self._trades.get(ex.orderId)
        contract = trade.contract if trade is not None else from_sim(ev.contract)
        fill = Fill(contract, ex, CommissionReport(), ex.time)
        self._fills[ex.execId] = fill
        if trade is not None:
            trade.fills.append(fill)
            trade.log.append(
                TradeLogEntry(ex.time, trade.orderStatus.status, f"Fill {ex.shares}@{ex.price}")
            )
            trade.fillEvent.emit(trade, fill)
        report = fill.commissionReport
        r = ev.commission_report
        report.execId, report.commission, report.currency = ex.execId, r.commission, r.currency
        report.realizedPNL, report.yield_ = r.realizedPNL, r.yield_
        report.yieldRedemptionDate = r.yieldRedemptionDate
        if trade is not None:
            trade.commissionReportEvent.emit(trade, fill, report)
        else:  # an order this adapter forgot: the Fill carries its commission report
            del self._fills[ex.execId]
            self.unbound_fill_event.emit(fill)

    def _error(self, ev: OrderErrorEvent) -> None:
        trade = self._trades.get(ev.order_id)
        if is_warning(ev.code):  # as ib_insync: a warning leaves the order alone
            return
        if trade is not None and not trade.isDone():
            msg = f"Error {ev.code}, reqId {ev.order_id}: {ev.text}"
            trade.orderStatus.status = OrderStatus.Cancelled
            trade.log.append(
                TradeLogEntry(self.world.clock.now(), OrderStatus.Cancelled, msg, ev.code)
            )
            trade.statusEvent.emit(trade)
            trade.cancelledEvent.emit(trade)


class SimVenue:
    """``Venue`` over the world: its clock, its instruments' details, its scanner, and the
    account's net liquidation."""

    def __init__(self, world: SimWorld) -> None:
        self.world = world

    def connected(self) -> bool:
        return True

    async def current_time(self) -> datetime:
        return self.world.clock.now()

    async def contract_details(self, contract: Contract) -> list[ContractDetails]:
        return [from_sim(d) for d in self.world.contract_details(to_sim(contract))]

    async def scan(self, cfg: ScannerConfig, timeout: float) -> list[ScanRow]:
        sub: ScannerSubscription = subscription(cfg)
        try:
            rows = self.world.scan(to_sim(sub))
        except ScanError as e:
            raise ScanFailed(f"{e.what} is disabled") from None
        return [
            ScanRow(r.rank, i.symbol, i.sec_type, i.currency, i.con_id, "")
            for r in rows[: cfg.top]
            for i in (r.instrument,)
        ]

    def net_liquidation(self, account: str) -> float | None:
        try:
            return float(self.world.broker.account(account).net_liquidation())
        except (KeyError, ValueError):
            return None
