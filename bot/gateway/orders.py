"""Orders between the wire and the SimBroker: placement, cancels, order/execution queries, and
the routing of broker events to the client that placed each order.

Events become what IB sends: a status change -> openOrder + orderStatus; an execution ->
execDetails + commissionReport (and, once the step is over, updated portfolio, positions and
account values to their subscribers); an order error -> error with the orderId as reqId. Orders
belong to (account, clientId) and outlive connections; events for a client that is not
connected are dropped (it sees the result through reqOpenOrders/reqExecutions on return).
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from ib_insync import Contract, ExecutionFilter, Order, OrderState

from bot.gateway import outbound as out
from bot.gateway.accounts import AccountFeed
from bot.gateway.faults import FaultState
from bot.gateway.peer import Peer
from bot.gateway.timefmt import ib_datetime
from bot.sim.broker import (
    BrokerEvent,
    ExecutionEvent,
    OrderErrorEvent,
    OrderSnapshot,
    OrderStatusEvent,
    SimBroker,
)
from bot.sim.instruments import Instrument


@dataclass(frozen=True, slots=True)
class _Delayed:
    """An order request held by a delay_acks fault: it reaches the broker at ``due``, so the
    order is neither acknowledged nor filled before then (as when IB is slow to take it).
    ``order`` None is a cancel of an order still held."""

    due: datetime
    key: tuple[str, int, int]  # (account, clientId, orderId)
    contract: Contract | None
    order: Order | None


@dataclass(slots=True)
class OrderDesk:
    broker: SimBroker
    feed: AccountFeed
    tz: ZoneInfo
    peer_of: Callable[[int], Peer | None]  # connected client by clientId
    faults: FaultState = field(default_factory=FaultState)
    next_ids: dict[tuple[str, int], int] = field(default_factory=dict)
    touched: dict[str, set[int]] = field(default_factory=dict)  # executions not yet pushed
    held: list[_Delayed] = field(default_factory=list)  # requests delayed by delay_acks

    # ---- ids ----------------------------------------------------------------------------

    def next_valid_id(self, account: str, client_id: int) -> int:
        """One above every orderId this client used in the account (1 for a new client)."""
        key = (account, client_id)
        if key not in self.next_ids:
            self.next_ids[key] = self.broker.max_order_id(account, client_id) + 1
        return self.next_ids[key]

    # ---- actions ------------------------------------------------------------------------

    def place(
        self,
        peer: Peer,
        account: str,
        order_id: int,
        contract: Contract,
        order: Order,
        inst: Instrument,
        now: datetime,
    ) -> None:
        key = (account, peer.client_id)
        self.next_ids[key] = max(self.next_valid_id(account, peer.client_id), order_id + 1)
        routed = inst.contract()
        routed.exchange = contract.exchange or inst.exchange
        order.orderId = order_id
        order.account = order.account or account
        if order.whatIf:
            self._what_if(peer, routed, order, inst, now)
            return
        if order.account not in self.broker.accounts():
            peer.error(
                order_id,
                321,
                "Error validating request.-'bN' : cause - "
                f"The account code {order.account!r} is not managed by this login.",
            )
            return
        rejection = self.faults.order_rejection(routed, order)
        if rejection is not None:
            peer.error(order_id, rejection.code, rejection.text)
            return
        okey = (order.account, peer.client_id, order_id)
        due = self._held_until(okey)
        if self.faults.ack_delay:
            due = max(due or now, now + self.faults.ack_delay)
        if due is not None:
            self.held.append(_Delayed(due, okey, routed, order))
            return
        self.route(self.broker.place_order(order.account, peer.client_id, routed, order, now))

    def release_held(self, now: datetime) -> None:
        """Order requests held by a delay_acks fault whose time has come reach the broker,
        in the order they arrived; their acknowledgements (and later fills) follow."""
        if not self.held:
            return
        due = [d for d in self.held if d.due <= now]
        self.held = [d for d in self.held if d.due > now]
        for d in due:
            account, client_id, order_id = d.key
            if d.order is None or d.contract is None:
                self.route(self.broker.cancel_order(account, client_id, order_id, now))
            else:
                self.route(self.broker.place_order(account, client_id, d.contract, d.order, now))

    def _held_until(self, key: tuple[str, int, int]) -> datetime | None:
        """When the last held request of this order reaches the broker (None: none held)."""
        dues = [d.due for d in self.held if d.key == key]
        return max(dues) if dues else None

    def cancel(self, peer: Peer, account: str, order_id: int, now: datetime) -> None:
        okey = (account, peer.client_id, order_id)
        due = self._held_until(okey)  # not at the broker yet: the cancel follows the order
        if due is not None:
            self.held.append(_Delayed(due, okey, None, None))
            return
        self.route(self.broker.cancel_order(account, peer.client_id, order_id, now))

    def global_cancel(self, accounts: list[str], now: datetime) -> None:
        for account in accounts:
            self.route(self.broker.global_cancel(account, now))

    def _what_if(
        self, peer: Peer, contract: Contract, order: Order, inst: Instrument, now: datetime
    ) -> None:
        """whatIfOrder: margin impact at the last mark (or the market's last price before the
        first tick), nothing placed."""
        acct = self.broker.account(order.account)
        price = self.broker.price(inst.con_id, now) or 0.0
        change = order.totalQuantity * price * acct.margin_rate
        before = acct.init_margin()
        equity = acct.net_liquidation()
        state = OrderState(
            status="PreSubmitted",
            initMarginBefore=f"{before:.2f}",
            maintMarginBefore=f"{before:.2f}",
            equityWithLoanBefore=f"{equity:.2f}",
            initMarginChange=f"{change:.2f}",
            maintMarginChange=f"{change:.2f}",
            equityWithLoanChange="0.00",
            initMarginAfter=f"{before + change:.2f}",
            maintMarginAfter=f"{before + change:.2f}",
            equityWithLoanAfter=f"{equity:.2f}",
            commissionCurrency=acct.currency,
        )
        order.clientId = peer.client_id
        peer.send(out.open_order(contract, order, state, peer.version))

    # ---- queries ------------------------------------------------------------------------

    def send_open_orders(self, peer: Peer, accounts: list[str], client_id: int | None) -> None:
        for account in accounts:
            for snap in self.broker.open_orders(account, client_id):
                self._send_snapshot(peer, snap)
        peer.send(out.open_order_end())

    def send_completed_orders(self, peer: Peer, accounts: list[str]) -> None:
        for account in accounts:
            for snap in self.broker.completed_orders(account):
                peer.send(
                    out.completed_order(snap.contract, snap.order, snap.order_state, peer.version)
                )
        peer.send(out.completed_orders_end())

    def send_executions(
        self, peer: Peer, accounts: list[str], req_id: int, flt: ExecutionFilter
    ) -> None:
        for account in accounts:
            for rec in self.broker.executions(account, flt):
                time_text = ib_datetime(rec.execution.time, self.tz)
                peer.send(out.exec_details(req_id, rec.contract, rec.execution, time_text))
                peer.send(out.commission_report(rec.commission_report))
        peer.send(out.exec_details_end(req_id))

    def _send_snapshot(self, peer: Peer, snap: OrderSnapshot) -> None:
        o = snap.order
        peer.send(out.open_order(snap.contract, o, snap.order_state, peer.version))
        peer.send(
            out.order_status(
                o.orderId,
                snap.status,
                snap.filled,
                snap.remaining,
                snap.avg_fill_price,
                o.permId,
                o.parentId,
                snap.last_fill_price,
                snap.client_id,
                snap.why_held,
            )
        )

    # ---- broker events ------------------------------------------------------------------

    def route(self, events: list[BrokerEvent]) -> None:
        for ev in events:
            if isinstance(ev, ExecutionEvent):
                self.touched.setdefault(ev.account, set()).add(ev.contract.conId)
            peer = self.peer_of(ev.client_id)
            if peer is None:
                continue
            if isinstance(ev, OrderStatusEvent):
                self._send_status(peer, ev)
            elif isinstance(ev, ExecutionEvent):
                time_text = ib_datetime(ev.execution.time, self.tz)
                peer.send(out.exec_details(-1, ev.contract, ev.execution, time_text))
                peer.send(out.commission_report(ev.commission_report))
            elif isinstance(ev, OrderErrorEvent):
                peer.error(ev.order_id, ev.code, ev.text)

    def _send_status(self, peer: Peer, ev: OrderStatusEvent) -> None:
        order = copy.copy(ev.order)
        order.orderId, order.clientId, order.permId = ev.order_id, ev.client_id, ev.perm_id
        peer.send(out.open_order(ev.contract, order, OrderState(status=ev.status), peer.version))
        peer.send(
            out.order_status(
                ev.order_id,
                ev.status,
                ev.filled,
                ev.remaining,
                ev.avg_fill_price,
                ev.perm_id,
                ev.parent_id,
                ev.last_fill_price,
                ev.client_id,
                ev.why_held,
            )
        )

    def push_account_changes(self, now: datetime) -> None:
        """Once per step: the accounts touched by executions to their subscribers."""
        if self.touched:
            touched, self.touched = self.touched, {}
            self.feed.on_executions(touched, now)
