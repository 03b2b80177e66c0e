"""The order transitions every part of the simulated broker shares: a status change reported
once, an order finished or cancelled (a parent with its children), bracket groups held until
their last order transmits them, children that start working when their parent fills, and
one-cancels-all groups.

Each call appends the BrokerEvents IB would report to the caller's ``events``.
"""

from __future__ import annotations

from datetime import datetime

from bot.sim import validation as v
from bot.sim.broker_events import BrokerEvent, OrderErrorEvent
from bot.sim.orders import Phase, SimOrder, SimOrderIndex, oca_group, oca_type

GroupKey = tuple[str, int, int]  # (account, client_id, the parent's orderId)


class OrderLife:
    """Phase changes of the orders in ``book`` (module doc)."""

    def __init__(self, book: SimOrderIndex) -> None:
        self.book = book
        self._held: dict[GroupKey, list[SimOrder]] = {}  # transmit=False groups

    def report(self, o: SimOrder, liquid: bool, events: list[BrokerEvent]) -> None:
        """An orderStatus when the status the client sees has changed."""
        status = o.status(liquid)
        if status != o.reported_status:
            o.reported_status = status
            events.append(o.status_event(status))

    def finish(self, o: SimOrder, status: str, now: datetime, events: list[BrokerEvent]) -> None:
        self.book.finish(o, status, now)
        self.unhold(o)
        o.reported_status = status
        events.append(o.status_event(status))

    def cancel(
        self, o: SimOrder, now: datetime, events: list[BrokerEvent], reason: str = ""
    ) -> None:
        """Cancel one order and, if it is a parent, its children (status + error 202)."""
        self.finish(o, "Cancelled", now, events)
        text = v.TEXT[v.CANCELLED] + reason
        events.append(OrderErrorEvent(o.account, o.client_id, o.order.orderId, v.CANCELLED, text))
        for child in self.book.children(o):
            self.cancel(child, now, events)

    # ---- brackets -----------------------------------------------------------------------

    def hold(self, o: SimOrder, liquid: bool, events: list[BrokerEvent]) -> None:
        """A transmit=False order: kept, not working, until its group is transmitted."""
        self._held.setdefault(_group_key(o), []).append(o)
        self.report(o, liquid, events)

    def unhold(self, o: SimOrder) -> None:
        held = self._held.get(_group_key(o))
        if held and o in held:
            held.remove(o)

    def transmit(self, o: SimOrder, liquid: bool, events: list[BrokerEvent]) -> None:
        """A transmit=True order sends the held orders of its group along with it (IB: the
        last child of a bracket transmits the whole bracket)."""
        group = self._held.pop(_group_key(o), [])
        for member in [*group, o]:
            member.order.transmit = True
            if member.done:
                continue
            if member.order.parentId:
                self._attach_child(member)
            else:
                self.book.activate(member)
            self.report(member, liquid, events)

    def activate_children(self, parent: SimOrder, liquid: bool, events: list[BrokerEvent]) -> None:
        for child in self.book.children(parent):
            if child.phase is Phase.CHILD:
                self.book.activate(child)
                self.report(child, liquid, events)

    def _attach_child(self, child: SimOrder) -> None:
        key = (child.account, child.client_id, child.order.parentId)
        parent = self.book.orders.get(key)
        if parent is not None and parent.done and parent.final_status == "Filled":
            self.book.activate(child)
        else:
            child.phase = Phase.CHILD

    # ---- one-cancels-all ----------------------------------------------------------------

    def join_oca(self, o: SimOrder, now: datetime, events: list[BrokerEvent]) -> bool:
        """An order joining an OCA group that has already traded: type 1 is cancelled, types
        2 and 3 are reduced by what the group filled. True if it was cancelled."""
        group = oca_group(o)
        done = self.book.oca_filled.get((o.account, *group), 0.0) if group else 0.0
        if done <= 0:
            return False
        if oca_type(o) != 1:
            o.order.totalQuantity = max(o.order.totalQuantity - done, 0.0)
            if o.remaining > 0:
                return False
        self.cancel(o, now, events, reason="OCA group")
        return True

    def apply_oca(self, o: SimOrder, qty: float, now: datetime, events: list[BrokerEvent]) -> None:
        """A fill in one member of an OCA group: type 1 cancels the others, types 2 and 3
        reduce their quantity by the filled amount (fills are sequential here, so the
        non-blocking type 3 cannot overfill either)."""
        group = oca_group(o)
        if group is None:
            return
        key = (o.account, *group)
        self.book.oca_filled[key] = self.book.oca_filled.get(key, 0.0) + qty
        kind = oca_type(o)
        for s in self.book.oca_siblings(o):
            if kind == 1:
                self.cancel(s, now, events, reason="OCA group")
                continue
            s.order.totalQuantity = max(s.order.totalQuantity - qty, s.filled)
            if s.remaining > 0:
                s.reported_status = ""
                self.report(s, s.instrument.is_liquid(now), events)
            elif s.filled > 0:
                self.finish(s, "Filled", now, events)
            else:
                self.cancel(s, now, events, reason="OCA group")


def _group_key(o: SimOrder) -> GroupKey:
    """A bracket is the parent and its children: keyed by the parent's orderId."""
    return (o.account, o.client_id, o.order.parentId or o.order.orderId)
