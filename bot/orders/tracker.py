"""Following sent orders: each Trade's status, fill and commission events -> records,
positions, journal and the strategies.

Fills reach ``fill_event`` exactly once per execId, whichever path sees them first (a live
fill, reconcile's executions after a reconnect, the journal's after a restart). A fill is
routed as soon as the broker reports the execution, with the commission known at that moment
(usually 0: IB sends the commission report just after); the report, when it arrives, updates
the journal row and the strategy's commission total, once per execId too.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from eventkit import Event

from bot.client.ib import EPOCH, CommissionReport, Fill, OrderStatus, Trade
from bot.journal.store import Journal
from bot.model.events import FillEvent, OrderIntent, OrderType, Rejection, Side
from bot.model.ib_errors import is_rejection
from bot.orders.build import parse_order_ref
from bot.orders.records import DONE_STATES, OrderRecord, OrderRecords
from bot.orders.seen_executions import SeenExecutions
from bot.portfolio.book import Portfolio
from bot.runtime import crash_points

log = logging.getLogger(__name__)

# The order types that protect a position (a stop loss); TRAIL is a stop that follows.
PROTECTIVE = frozenset({OrderType.STOP, OrderType.STOP_LIMIT, OrderType.TRAIL})


class OrderTracker:
    """Binds Trades to records and turns their events into the executor's three events:
    ``fill_event`` (strategy_id, FillEvent), ``order_event`` (strategy_id, WorkingOrder),
    ``rejection_event`` (Rejection), and ``unprotected_event`` (strategy_id, symbol, ref,
    error, quantity): the broker rejected a protective stop and ``quantity`` (signed: the
    position, or the bracket entry still to fill) is left without one."""

    events = ("fill_event", "order_event", "rejection_event", "unprotected_event")

    def __init__(
        self,
        records: OrderRecords,
        positions: Portfolio,
        journal: Journal,
        now: Callable[[], datetime],
        cancel: Callable[[OrderRecord], None],
    ) -> None:
        """``cancel``: the executor's cancel of an order (a bracket whose stop was rejected)."""
        self.records = records
        self.positions = positions
        self.journal = journal
        self._now = now
        self.seen = SeenExecutions(journal, now)
        self._bound: dict[int, Trade] = {}
        # Records that reached their end, by id: the pruner's candidates (bot/orders/pruning.py).
        self.finished: dict[int, OrderRecord] = {}
        self.fill_event = Event("fill_event")
        self.order_event = Event("order_event")
        self.rejection_event = Event("rejection_event")
        self.unprotected_event = Event("unprotected_event")
        self._cancel = cancel
        # bracket entry ref -> its rejected stop (and the error): counted once the entry ended
        self._waiting: dict[str, tuple[OrderRecord, str]] = {}

    # ---- binding ------------------------------------------------------------------------

    def bind(self, rec: OrderRecord, trade: Trade) -> None:
        rec.trade = trade
        if id(trade) in self._bound:
            return
        self._bound[id(trade)] = trade
        trade.statusEvent += self._on_status
        trade.fillEvent += self._on_fill
        trade.commissionReportEvent += self._on_commission

    def unbind_done(self) -> None:
        """Forget finished trades (at reconcile: their late reports have long arrived)."""
        for trade in list(self._bound.values()):
            if trade.isDone():
                self.unbind(trade)

    def unbind(self, trade: Trade) -> None:
        if self._bound.pop(id(trade), None) is not None:
            trade.statusEvent -= self._on_status
            trade.fillEvent -= self._on_fill
            trade.commissionReportEvent -= self._on_commission

    @property
    def bound(self) -> int:
        return len(self._bound)

    def _record_for(self, trade: Trade) -> OrderRecord | None:
        rec = self.records.by_id.get(trade.order.orderId)
        if rec is None or rec.ref != trade.order.orderRef:
            rec = self.records.by_ref.get(trade.order.orderRef)
        return rec

    # ---- trade events -------------------------------------------------------------------

    def _on_status(self, trade: Trade) -> None:
        rec = self._record_for(trade)
        if rec is None:
            return
        st = trade.orderStatus
        entry = trade.log[-1] if trade.log else None
        message = entry.message if entry else ""
        rec.broker_filled = max(rec.broker_filled, st.filled)
        if st.status == OrderStatus.Filled:  # all of it, whatever the filled field says
            rec.broker_filled = max(rec.broker_filled, rec.spec.quantity)
        self._journal_status(
            rec, st.status, message, st.permId, st.filled, st.remaining, st.avgFillPrice
        )
        if (
            st.status == OrderStatus.Cancelled
            and entry is not None
            and is_rejection(entry.errorCode)
        ):
            self.refuse(rec.strategy_id, rec.intent, f"IB rejected {rec.ref}: {message}")
            rec.status = st.status
            self.emit_view(rec)
            self._protection_lost(rec, message)
            return
        rec.status = st.status
        self.emit_view(rec)

    def _protection_lost(self, rec: OrderRecord, message: str) -> None:
        """A rejected order: if it was a protective stop, what it leaves open goes out on
        ``unprotected_event`` (after the strategy heard of the rejection: a stop it re-sent
        meanwhile counts). A bracket's stop refused before its entry is done: the entry would
        fill unprotected, so it is cancelled, and the count waits until it has ended."""
        if rec.spec.order_type not in PROTECTIVE:
            return
        parent = rec.parent
        if parent is not None and not parent.done:
            log.warning("%s: the stop of bracket %s was rejected; cancelling its entry",
                        rec.strategy_id, parent.ref)  # fmt: skip
            self._waiting[parent.ref] = (rec, message)
            self._cancel(parent)
            return
        if (open_ := self._unprotected(rec)) is not None:
            self.unprotected_event.emit(rec.strategy_id, rec.symbol, rec.ref, message, open_)

    def _unprotected(self, rec: OrderRecord) -> float | None:
        """The signed position a rejected stop leaves unprotected: what it would have closed,
        less what the strategy's other working stops on that side cover; None if covered."""
        spec = rec.spec
        sid, symbol = rec.strategy_id, rec.symbol
        exposure = self.positions.get(sid, symbol)
        if exposure * spec.action.sign >= 0:
            return None  # it would have reduced nothing
        covered = sum(
            w.spec.quantity - w.filled for w in self.records.views(sid, symbol).values()
            if w.tag != rec.tag and w.spec.order_type in PROTECTIVE
            and w.spec.action is spec.action and w.status not in DONE_STATES
        )  # fmt: skip
        return exposure if covered + 1e-9 < abs(exposure) else None

    def _on_fill(self, trade: Trade, fill: Fill) -> None:
        rec = self._record_for(trade)
        if rec is not None:
            self.route_fill(rec.strategy_id, rec.symbol, rec.tag, rec.ref, fill, rec)

    def _on_commission(self, trade: Trade, fill: Fill, report: CommissionReport) -> None:
        self.commission(report)

    # ---- fills and commissions ----------------------------------------------------------

    def commission(self, report: CommissionReport) -> None:
        """A commission report: booked to its execution's strategy once, if it was routed."""
        owner = self.seen.take_commission(report.execId) if report.execId else None
        if owner is None:
            return
        sid, symbol = owner
        self.positions.add_commission(sid, report.commission, symbol)
        self.journal.record_commission(report.execId, report.commission, report.realizedPNL)

    def route_execution(self, fill: Fill, prefix: str) -> bool:
        """An execution found by its orderRef alone (reconcile's, or one of an order the
        broker no longer follows); False if not ours or already routed."""
        ref = fill.execution.orderRef
        parsed = parse_order_ref(ref, prefix)
        if parsed is None:
            return False
        rec = self.records.by_ref.get(ref)
        return self.route_fill(parsed.strategy_id, parsed.symbol, parsed.tag, ref, fill, rec)

    def route_fill(
        self, sid: str, symbol: str, tag: str, ref: str, fill: Fill, rec: OrderRecord | None
    ) -> bool:
        """Position, journal and strategy for one execution; False if already routed."""
        ex = fill.execution
        timed = ex.time != EPOCH and ex.time.tzinfo is not None
        if self.seen.seen(ex.execId, ex.time if timed else None):
            return False
        side = Side.BUY if ex.side in ("BOT", "BUY") else Side.SELL
        when = ex.time if timed else self._now()
        self.seen.add(ex.execId, when, sid, symbol)
        report = fill.commissionReport
        commission = report.commission if report.execId == ex.execId else 0.0
        self.positions.on_fill(sid, symbol, side.sign * ex.shares, ex.price, when)
        self.journal.record_fill(
            exec_id=ex.execId, ref=ref, strategy_id=sid, symbol=symbol, tag=tag,
            order_id=ex.orderId, side=side.value, quantity=ex.shares, price=ex.price,
            commission=commission, time=when,
        )  # fmt: skip
        if report.execId == ex.execId:
            self.commission(report)
        event = FillEvent(
            symbol, tag, side, ex.shares, ex.price, commission, when, ex.orderId, ex.execId
        )
        if rec is not None:
            rec.filled += ex.shares
            self.emit_view(rec)
        self.fill_event.emit(sid, event)
        if rec is not None and rec.filled < rec.spec.quantity:
            crash_points.reached("after_partial_fill")
        return True

    # ---- states out ---------------------------------------------------------------------

    def set_status(self, rec: OrderRecord, status: str, message: str) -> None:
        """A state the executor decides itself (never sent, ended while disconnected)."""
        rec.status = status
        self._journal_status(rec, status, message, 0, rec.filled, rec.remaining, 0.0)
        self.emit_view(rec)

    def _journal_status(
        self, rec: OrderRecord, status: str, message: str, perm_id: int, filled: float,
        remaining: float, avg_price: float,
    ) -> None:  # fmt: skip
        self.journal.record_status(
            ref=rec.ref, order_id=rec.order_id, perm_id=perm_id, status=status, filled=filled,
            remaining=remaining, avg_fill_price=avg_price, now=self._now(), message=message,
        )  # fmt: skip

    def emit_view(self, rec: OrderRecord) -> None:
        # A done trade stays bound until pruned: its commission reports arrive after the last
        # fill.
        view = self.records.refresh(rec)
        if rec.done:
            self.finished[id(rec)] = rec
        self.order_event.emit(rec.strategy_id, view)
        if self._waiting and rec.done and (stop := self._waiting.pop(rec.ref, None)):
            self._protection_lost(*stop)  # a cancelled bracket entry: what did fill is open

    def refuse(self, sid: str, intent: OrderIntent, reason: str) -> None:
        log.warning("%s: %s", sid, reason)
        rejection = Rejection(sid, intent, reason, self._now())
        self.journal.record_rejection(rejection)
        self.rejection_event.emit(rejection)
