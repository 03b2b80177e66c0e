"""Working orders of the simulated broker: one state machine per order, and their indexes.

Phases (explicit transitions, driven by bot.sim.broker):

    HELD    transmit=False: stored, not working, until a transmit=True order of its group arrives
    CHILD   parentId set: waits until the parent has filled completely
    ACTIVE  working: matched against every tick of its contract
    DONE    Filled | Cancelled | Inactive (rejected); never changes again

IB status as the client sees it: HELD/CHILD -> PreSubmitted; ACTIVE -> PreSubmitted while an
untriggered stop (STP, STP LMT, TRAIL, MIT) or outside liquid hours without outsideRth, else
Submitted; DONE -> its final status.
"""

from __future__ import annotations

import copy
import heapq
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from enum import Enum

from ib_insync import Contract, Order, OrderState
from ib_insync.util import UNSET_DOUBLE

from bot.model.ib_time import format_ib_time
from bot.model.order_prices import TRIGGER_PRICED
from bot.sim.broker_events import OrderSnapshot, OrderStatusEvent
from bot.sim.instruments import Instrument
from bot.sim.matching import STOP_TYPES, MatchState, Terms

OrderKey = tuple[str, int, int]  # (account, client_id, order_id)
UNSET = UNSET_DOUBLE


class Phase(Enum):
    HELD = "held"
    CHILD = "child"
    ACTIVE = "active"
    DONE = "done"


def is_set(x: float) -> bool:
    return x != UNSET and x == x  # not UNSET_DOUBLE, not NaN


def terms_of(order: Order) -> Terms:
    """The fill rules' view of an Order (its prices as sent: on the tick grid)."""
    kind = order.orderType
    amount = order.auxPrice if kind == "TRAIL" and is_set(order.auxPrice) else None
    percent = order.trailingPercent if is_set(order.trailingPercent) else None
    return Terms(
        side=1 if order.action.upper() == "BUY" else -1,
        order_type=kind,
        limit=order.lmtPrice if is_set(order.lmtPrice) else None,
        stop=order.auxPrice if kind in TRIGGER_PRICED else None,
        trail_amount=amount if percent is None else None,
        trail_percent=percent,
    )


def arrival_state(order: Order) -> MatchState:
    """Match state of a new order: a TRAIL starts at its trailStopPrice when it has one."""
    if order.orderType == "TRAIL" and is_set(order.trailStopPrice):
        return MatchState(trail_stop=order.trailStopPrice)
    return MatchState()


def modified_state(state: MatchState, order: Order, trail_changed: bool) -> MatchState:
    """A changed order arrives anew (the marketable-on-arrival rule applies again), keeping
    its trigger and trail level unless the modify set a new trailStopPrice."""
    trail = state.trail_stop
    if order.orderType == "TRAIL" and trail_changed:
        trail = order.trailStopPrice if is_set(order.trailStopPrice) else None
    return MatchState(fresh=True, triggered=state.triggered, trail_stop=trail)


@dataclass(slots=True, eq=False)
class SimOrder:
    """Mutable state of one order; ``order`` is the broker's own copy of the client's Order."""

    account: str
    client_id: int
    contract: Contract
    instrument: Instrument
    order: Order
    seq: int  # arrival order: orders on one tick match in this order
    phase: Phase
    placed_at: datetime
    match: MatchState = field(default_factory=MatchState)
    filled: float = 0.0
    filled_value: float = 0.0  # sum of qty x price, for avgFillPrice and commissions
    share_fees: float = 0.0  # per-share commission so far, before the order's min and max
    last_fill_price: float = 0.0
    final_status: str = ""  # set when DONE
    reported_status: str = ""  # last status sent, to report changes only
    expires_at: datetime | None = None  # DAY orders
    close_at: datetime | None = None  # MOC / LOC
    completed_at: datetime | None = None
    _terms: Terms | None = None  # cache; reset when the order is modified
    # Set while the order rests as a plain limit at this price: on_tick then skips it cheaply
    # unless the tick reaches the price (the full rules run only for those).
    resting_limit: float | None = None

    @property
    def key(self) -> OrderKey:
        return (self.account, self.client_id, self.order.orderId)

    @property
    def side(self) -> int:
        return 1 if self.order.action.upper() == "BUY" else -1

    @property
    def remaining(self) -> float:
        return max(self.order.totalQuantity - self.filled, 0.0)

    @property
    def avg_fill_price(self) -> float:
        """Average fill price, cleaned of the float noise the running sum picks up (several
        fills at 50.90 average to 50.90, not 50.899999...)."""
        return round(self.filled_value / self.filled, 8) if self.filled else 0.0

    @property
    def done(self) -> bool:
        return self.phase is Phase.DONE

    def terms(self) -> Terms:
        if self._terms is None:
            self._terms = self._make_terms()
        return self._terms

    def _make_terms(self) -> Terms:
        return terms_of(self.order)

    def status(self, liquid: bool) -> str:
        if self.phase is Phase.DONE:
            return self.final_status
        if self.phase is not Phase.ACTIVE:
            return "PreSubmitted"
        if self.order.orderType in STOP_TYPES and not self.match.triggered:
            return "PreSubmitted"
        if not liquid and not self.order.outsideRth:
            return "PreSubmitted"
        return "Submitted"

    def status_event(self, status: str) -> OrderStatusEvent:
        return OrderStatusEvent(
            account=self.account,
            client_id=self.client_id,
            order_id=self.order.orderId,
            perm_id=self.order.permId,
            contract=self.contract,
            order=self.public_order(),
            status=status,
            filled=self.filled,
            remaining=self.remaining,
            avg_fill_price=self.avg_fill_price,
            last_fill_price=self.last_fill_price,
            parent_id=self.order.parentId,
        )

    def public_order(self) -> Order:
        """A copy for the outside world, with the live trailing stop filled in."""
        out = copy.copy(self.order)
        if self.match.trail_stop is not None:
            out.trailStopPrice = self.match.trail_stop
        return out

    def snapshot(self) -> OrderSnapshot:
        """As last reported (an order's status only changes when the broker reports it)."""
        status = self.final_status if self.done else (self.reported_status or "PreSubmitted")
        state = OrderState(status=status)
        if self.completed_at is not None:
            state.completedTime = format_ib_time(self.completed_at)
            state.completedStatus = status
        return OrderSnapshot(
            account=self.account,
            client_id=self.client_id,
            contract=self.contract,
            order=self.public_order(),
            order_state=state,
            status=status,
            filled=self.filled,
            remaining=self.remaining,
            avg_fill_price=self.avg_fill_price,
            last_fill_price=self.last_fill_price,
        )


class SimOrderIndex:
    """All orders of all accounts, indexed so a tick only touches its contract's orders."""

    def __init__(self) -> None:
        self.orders: dict[OrderKey, SimOrder] = {}
        self._by_account: dict[str, dict[OrderKey, SimOrder]] = {}
        self._groups: dict[tuple[object, ...], dict[OrderKey, SimOrder]] = {}  # OCA + children
        self._active: dict[int, dict[OrderKey, SimOrder]] = {}  # con_id -> working orders
        self._deadlines: list[tuple[datetime, int, OrderKey]] = []  # DAY expiry / MOC close
        self.completed: dict[str, list[SimOrder]] = {}  # account -> done orders, in order
        self.oca_filled: dict[tuple[object, ...], float] = {}  # (account, group) -> filled qty
        self.top_id: dict[tuple[str, int], int] = {}  # (account, clientId) -> highest orderId
        # (account, clientId) -> lowest and highest orderId of the forgotten orders
        self.forgotten: dict[tuple[str, int], tuple[int, int]] = {}
        self._seq = 0

    def next_seq(self) -> int:
        self._seq += 1
        return self._seq

    def add(self, o: SimOrder) -> None:
        self.orders[o.key] = o
        self._by_account.setdefault(o.account, {})[o.key] = o
        for key in _group_keys(o):
            self._groups.setdefault(key, {})[o.key] = o
        ids = (o.account, o.client_id)
        self.top_id[ids] = max(self.top_id.get(ids, 0), o.order.orderId)
        self.schedule(o)
        if o.phase is Phase.ACTIVE:
            self.activate(o)

    def activate(self, o: SimOrder) -> None:
        o.phase = Phase.ACTIVE
        self._active.setdefault(o.contract.conId, {})[o.key] = o

    def schedule(self, o: SimOrder) -> None:
        """(Re)register the order's deadline; stale heap entries are skipped when popped."""
        for when in (o.expires_at, o.close_at):
            if when is not None:
                heapq.heappush(self._deadlines, (when, o.seq, o.key))

    def finish(self, o: SimOrder, status: str, now: datetime) -> None:
        o.phase = Phase.DONE
        o.final_status = status
        o.completed_at = now
        self._active.get(o.contract.conId, {}).pop(o.key, None)
        self.completed.setdefault(o.account, []).append(o)

    def forget_completed(self, before: datetime) -> int:
        """Drop the orders completed before ``before`` from every index; how many. IB's
        completed orders and executions are the current day's: nothing asks for older ones,
        and a working order never needs a finished one (children are attached by then)."""
        n = 0
        for account, done in self.completed.items():
            keep = [o for o in done if o.completed_at is not None and o.completed_at >= before]
            if len(keep) == len(done):
                continue
            kept = set(map(id, keep))
            for o in done:
                if id(o) not in kept:
                    self._drop(o)
            n += len(done) - len(keep)
            self.completed[account] = keep
        return n

    def _drop(self, o: SimOrder) -> None:
        if self.orders.get(o.key) is o:
            del self.orders[o.key]
        self._by_account.get(o.account, {}).pop(o.key, None)
        for key in _group_keys(o):
            members = self._groups.get(key)
            if members is not None and members.get(o.key) is o:
                del members[o.key]
                if not members:  # the group's last order: its shared fill count goes too
                    del self._groups[key]
                    self.oca_filled.pop(key, None)
        ids, oid = (o.account, o.client_id), o.order.orderId
        lo, hi = self.forgotten.get(ids, (oid, oid))
        self.forgotten[ids] = (min(lo, oid), max(hi, oid))

    def was_forgotten(self, account: str, client_id: int, order_id: int) -> bool:
        """Whether the id lies among those of forgotten orders (used, or skipped, before)."""
        lo, hi = self.forgotten.get((account, client_id), (1, 0))
        return lo <= order_id <= hi

    def working_con_ids(self) -> list[int]:
        """The contracts with working orders, in the order they first had one."""
        return [cid for cid, found in self._active.items() if found]

    def working_on(self, con_id: int) -> list[SimOrder]:
        """The contract's working orders, in time priority (a copy: matching mutates the index)."""
        found = self._active.get(con_id)
        if not found:
            return []
        return list(found.values())  # insertion order = the order they became working

    def due(self, now: datetime, inclusive: bool = False) -> Iterator[SimOrder]:
        """Pop orders whose expiry or close time has passed (or is now, if inclusive)."""
        heap = self._deadlines
        while heap and (heap[0][0] < now or (inclusive and heap[0][0] == now)):
            when, _, key = heapq.heappop(heap)
            o = self.orders.get(key)
            if o is not None and not o.done and when in (o.expires_at, o.close_at):
                yield o

    def of_account(self, account: str) -> list[SimOrder]:
        return sorted(self._by_account.get(account, {}).values(), key=lambda o: o.seq)

    def children(self, parent: SimOrder) -> list[SimOrder]:
        family = ("children", parent.account, parent.client_id, parent.order.orderId)
        found = self._groups.get(family, {}).values()
        return sorted((o for o in found if not o.done), key=lambda o: o.seq)

    def oca_siblings(self, o: SimOrder) -> list[SimOrder]:
        """Orders of the same OCA group (explicit ocaGroup, or a bracket's children)."""
        group = oca_group(o)
        if group is None:
            return []
        found = self._groups.get((o.account, *group), {}).values()
        return sorted((s for s in found if s is not o and not s.done), key=lambda s: s.seq)


def _group_keys(o: SimOrder) -> list[tuple[object, ...]]:
    """The ``_groups`` an order is filed in: its OCA group, and its parent's children."""
    keys: list[tuple[object, ...]] = []
    group = oca_group(o)
    if group is not None:
        keys.append((o.account, *group))
    if o.order.parentId:
        keys.append(("children", o.account, o.client_id, o.order.parentId))
    return keys


def oca_group(o: SimOrder) -> tuple[object, ...] | None:
    """The OCA group an order belongs to: its ocaGroup, else its bracket (children of a parent
    are one-cancels-all at IB even without an ocaGroup)."""
    if o.order.ocaGroup:
        return ("oca", o.order.ocaGroup)
    if o.order.parentId:
        return ("bracket", o.client_id, o.order.parentId)
    return None


def oca_type(o: SimOrder) -> int:
    """ocaType 1 cancels the others; 2 and 3 reduce them. A bracket's children reduce (2)."""
    if o.order.ocaGroup:
        return o.order.ocaType if o.order.ocaType in (1, 2, 3) else 1
    return 2
