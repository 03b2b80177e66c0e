"""The executor's records of its own orders: by orderId, orderRef and (strategy, symbol, tag).

A record lives from submit until its Trade reaches an end state AND every execution IB
reported for it has been routed: IB often sends ``orderStatus Filled`` before the
``execDetails``, and dropping the order from the working set in between would let a
TargetPosition send the same shares twice.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field

from bot.client.ib import Contract, Order, OrderStatus, Trade
from bot.model.events import OrderIntent, OrderSpec, WorkingOrder

_EMPTY: Mapping[str, WorkingOrder] = {}
DONE_STATES = frozenset(OrderStatus.DoneStates)


@dataclass(slots=True, eq=False)
class OrderRecord:
    strategy_id: str
    symbol: str
    tag: str
    seq: int
    ref: str
    contract: Contract
    order: Order
    spec: OrderSpec
    intent: OrderIntent  # what the strategy asked for: the subject of a broker rejection
    parent: OrderRecord | None = None
    children: list[OrderRecord] = field(default_factory=list)
    ref_price: float = float("nan")  # dry run fills market orders here
    trade: Trade | None = None
    status: str = OrderStatus.PendingSubmit
    broker_filled: float = 0.0  # what IB's orderStatus says
    filled: float = 0.0  # what we have routed as fills (matches the position)
    sent: bool = False
    cancel_requested: bool = False
    done: bool = False

    @property
    def order_id(self) -> int:
        return int(self.order.orderId)

    @property
    def remaining(self) -> float:
        return max(self.spec.quantity - self.filled, 0.0)

    def view(self) -> WorkingOrder:
        return WorkingOrder(
            self.symbol, self.tag, self.order_id, self.spec, self.filled, self.status
        )

    def finished(self) -> bool:
        """End state reached and all of its executions routed."""
        return self.status in DONE_STATES and self.filled >= self.broker_filled - 1e-9


class OrderRecords:
    """Every OrderRecord of this run, indexed by orderId, orderRef and (strategy, symbol, tag)."""

    def __init__(self) -> None:
        self.by_id: dict[int, OrderRecord] = {}
        self.by_ref: dict[str, OrderRecord] = {}
        self._working: dict[tuple[str, str], dict[str, OrderRecord]] = {}
        self._views: dict[tuple[str, str], dict[str, WorkingOrder]] = {}
        self._count: dict[str, int] = {}  # working records per strategy
        self._symbols: dict[str, list[tuple[str, str]]] = {}  # symbol -> (strategy, symbol) keys

    def add(self, rec: OrderRecord) -> None:
        self.by_id[rec.order_id] = rec
        self.by_ref[rec.ref] = rec
        key = (rec.strategy_id, rec.symbol)
        if key not in self._working:
            self._symbols.setdefault(rec.symbol, []).append(key)
        by_tag = self._working.setdefault(key, {})
        old = by_tag.get(rec.tag)
        if old is None or old.done:
            self._count[rec.strategy_id] = self._count.get(rec.strategy_id, 0) + 1
        by_tag[rec.tag] = rec
        self._views.setdefault(key, {})[rec.tag] = rec.view()

    def reindex(self, rec: OrderRecord, old_id: int) -> None:
        self.by_id.pop(old_id, None)
        self.by_id[rec.order_id] = rec

    def forget(self, rec: OrderRecord) -> None:
        """Drop a finished record from the id and ref indexes (bot/orders/pruning.py)."""
        if self.by_id.get(rec.order_id) is rec:
            del self.by_id[rec.order_id]
        if self.by_ref.get(rec.ref) is rec:
            del self.by_ref[rec.ref]

    def working(self, strategy_id: str, symbol: str, tag: str) -> OrderRecord | None:
        recs = self._working.get((strategy_id, symbol))
        return recs.get(tag) if recs else None

    def working_on(self, strategy_id: str, symbol: str) -> Iterator[OrderRecord]:
        """One strategy's working records on one symbol (a snapshot)."""
        recs = self._working.get((strategy_id, symbol))
        return iter(list(recs.values()) if recs else ())

    def refresh(self, rec: OrderRecord) -> WorkingOrder:
        """Update the strategy-facing view; drop the record from the working set once done."""
        view = rec.view()
        key = (rec.strategy_id, rec.symbol)
        views = self._views.get(key)
        if rec.finished():
            rec.done = True
            recs = self._working.get(key)
            if recs is not None and recs.get(rec.tag) is rec:
                del recs[rec.tag]
                self._count[rec.strategy_id] -= 1
                if views is not None:
                    views.pop(rec.tag, None)
        elif views is not None and self._working[key].get(rec.tag) is rec:
            views[rec.tag] = view
        return view

    def views(self, strategy_id: str, symbol: str) -> Mapping[str, WorkingOrder]:
        return self._views.get((strategy_id, symbol), _EMPTY)

    def count(self, strategy_id: str | None = None) -> int:
        """Working records of one strategy (None: all)."""
        if strategy_id is not None:
            return self._count.get(strategy_id, 0)
        return sum(self._count.values())

    def views_on(self, symbol: str) -> list[WorkingOrder]:
        """Every strategy's working orders on one symbol."""
        views = self._views
        return [w for key in self._symbols.get(symbol, ()) for w in views.get(key, {}).values()]

    def all_working(self, strategy_id: str | None = None) -> Iterator[OrderRecord]:
        """Working records, parents before children (a snapshot: safe to cancel while iterating)."""
        recs = [
            r
            for (sid, _), by_tag in self._working.items()
            if strategy_id is None or sid == strategy_id
            for r in by_tag.values()
        ]
        recs.sort(key=lambda r: (r.parent is not None, r.order_id))
        return iter(recs)
