"""Records -> the broker: new orders, modifies and cancels, through the pacing governor.

Each order becomes an OrderRecord (bot/orders/records.py) with its ib_insync Order
(bot/orders/build.py); its row is made durable in the journal (write-ahead: bot/journal/store.py),
then it goes to the pacing governor (bot/orders/message_rate.py), which calls the broker at once
when under the message rate. An order the journal cannot record is not sent: it is refused with the
reason "journal". The Trade the broker hands back is followed by the OrderTracker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.client.ib import Contract, OrderStatus
from bot.journal.store import Journal, JournalError
from bot.model.events import OrderSpec, PlaceBracket, PlaceOrder, TargetPosition
from bot.orders.build import OrderDefaults, build_order, make_order_ref
from bot.orders.message_rate import PacingGovernor
from bot.orders.records import OrderRecord, OrderRecords
from bot.orders.tracker import OrderTracker
from bot.ports.venue import BrokerPort
from bot.runtime import crash_points

log = logging.getLogger(__name__)


class OrderPlacer:
    """Builds records and sends them; ``contracts``: symbol -> (qualified Contract, min tick)."""

    def __init__(
        self,
        broker: BrokerPort,
        pacer: PacingGovernor,
        tracker: OrderTracker,
        journal: Journal,
        *,
        prefix: str,
        defaults: OrderDefaults,
        now: Callable[[], datetime],
    ) -> None:
        self.broker = broker
        self.pacer = pacer
        self.tracker = tracker
        self.records: OrderRecords = tracker.records
        self.journal = journal
        self.prefix = prefix
        self._defaults = defaults
        self._now = now
        self.contracts: dict[str, tuple[Contract, float]] = {}
        self.seq: dict[tuple[str, str], int] = journal.reads.sequences()

    def cannot_place(self, symbol: str, tag: str, sid: str, check_tag: bool = True) -> str | None:
        if symbol not in self.contracts:
            return f"{symbol} has no qualified contract (not in the universe?)"
        existing = self.records.working(sid, symbol, tag) if check_tag else None
        if existing is not None and not existing.cancel_requested:  # cancel-then-replace is fine
            return f"an order tagged {tag!r} is already working on {symbol}: use ModifyOrder"
        return None

    def next_seq(self, sid: str, symbol: str) -> int:
        seq = self.seq.get((sid, symbol), 0) + 1
        self.seq[(sid, symbol)] = seq
        return seq

    def new_record(
        self,
        sid: str,
        intent: PlaceOrder | PlaceBracket | TargetPosition,
        tag: str,
        seq: int,
        spec: OrderSpec,
        ref_price: float,
        parent: OrderRecord | None = None,
    ) -> OrderRecord:
        symbol = intent.symbol
        contract, tick = self.contracts[symbol]
        ref = make_order_ref(self.prefix, sid, symbol, tag, seq)
        order = build_order(spec, tick=tick, defaults=self._defaults, order_ref=ref)
        order.orderId = self.broker.next_order_id()
        rec = OrderRecord(sid, symbol, tag, seq, ref, contract, order, spec, intent, parent)
        rec.ref_price = ref_price
        if parent is not None:
            parent.children.append(rec)
        self.records.add(rec)
        return rec

    # ---- new orders ---------------------------------------------------------------------

    def send(self, legs: list[OrderRecord]) -> None:
        """Journal the legs' rows (write-ahead: module doc), then hand them to the pacer."""
        try:
            for rec in legs:
                self.journal_order(rec, "New", write_ahead=True)
        except JournalError as e:
            for rec in legs:
                self._not_sent(rec, f"journal: {e}")
            return
        crash_points.reached("after_journal")
        self.pacer.send(len(legs), lambda: self._place_now(legs))

    def _place_now(self, legs: list[OrderRecord]) -> None:
        live = [r for r in legs if not r.done]
        if live and live[-1].order.transmit is False:
            live[-1].order.transmit = True  # the last leg was cancelled while queued
        for rec in live:
            try:
                trade = self.broker.place_order(rec.contract, rec.order)
            except ConnectionError as e:
                self._not_sent(rec, f"{rec.ref} not sent: {e}")
                continue
            rec.sent = True
            self.tracker.bind(rec, trade)
        crash_points.reached("after_send")

    def _not_sent(self, rec: OrderRecord, why: str) -> None:
        self.tracker.set_status(rec, OrderStatus.Cancelled, why)
        self.tracker.refuse(rec.strategy_id, rec.intent, why)

    def journal_order(self, rec: OrderRecord, event: str, *, write_ahead: bool = False) -> None:
        self.journal.record_order(
            ref=rec.ref, strategy_id=rec.strategy_id, symbol=rec.symbol, tag=rec.tag,
            seq=rec.seq, order=rec.order, spec=rec.spec, now=self._now(),
            parent_ref=rec.parent.ref if rec.parent else None, event=event,
            write_ahead=write_ahead,
        )  # fmt: skip

    # ---- modify and cancel --------------------------------------------------------------

    def modify(self, rec: OrderRecord) -> None:
        """``rec.order`` was changed in place: send it (an unsent, queued order needs nothing
        more: the queued placeOrder sends this Order)."""
        if rec.sent:
            rec.order.transmit = True  # a bracket leg placed with transmit=False must go now
            self.pacer.send(1, lambda: self._modify_now(rec))
        self.journal_order(rec, "Modify")  # buffered: the broker keeps the order's new terms

    def _modify_now(self, rec: OrderRecord) -> None:
        trade = rec.trade
        if rec.done or trade is None or trade.isDone():
            log.info("modify of %s skipped: the order already ended", rec.ref)
            return
        self.broker.place_order(rec.contract, trade.order)  # same orderId: modified in place

    def cancel(self, rec: OrderRecord) -> None:
        if rec.cancel_requested or rec.done:
            return
        rec.cancel_requested = True
        for child in rec.children:  # the broker cancels the children with their parent
            child.cancel_requested = True
        if not rec.sent:
            # Still queued: it never reached the broker, and ends here.
            for r in (rec, *rec.children):
                self.tracker.set_status(r, OrderStatus.Cancelled, "cancelled before sending")
            return
        self.pacer.send(1, lambda: self._cancel_now(rec))

    def _cancel_now(self, rec: OrderRecord) -> None:
        if rec.trade is not None and not rec.trade.isDone():
            self.broker.cancel_order(rec.trade.order)
