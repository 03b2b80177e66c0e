"""OrderExecutor: risk-approved intents -> ib_insync orders, followed to their end state.

Where an order goes next: ``submit`` builds ib_insync Orders (bot/orders_build.py), hands
them to the pacing governor (bot/pacing.py), which calls ``ib.placeOrder`` / ``ib.cancelOrder``
at once when under the message rate. Each Trade's ``statusEvent`` / ``fillEvent`` /
``commissionReportEvent`` come back here; fills are routed to the owning strategy through
``fill_event`` exactly once per execId (live, after a reconnect, after a restart) and
update the per-strategy positions (bot/positions.py). Everything is journalled.

Commissions: a fill is routed as soon as IB reports the execution, with the commission
known at that moment (usually 0: IB sends the commission report just after). The report,
when it arrives, updates the journal row and ``commission(strategy_id)``; strategies that
need net P&L read that rather than waiting on the fill path.

Dry run: nothing is sent. Orders get negative local ids, market orders (and market
bracket entries) fill at the intent's reference price on the next loop turn; resting orders
(LMT, STP, STP LMT, TRAIL, MIT, bracket legs once their entry has filled) are matched against
every price the executor learns (``update_price``, ``update_bar``) with the simulated
broker's fill rules (bot/dry_run.py). All of it goes to the (dry-run) journal.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from datetime import datetime

from eventkit import Event
from ib_insync import Contract, Execution, Fill, OrderStatus, Trade
from ib_insync.objects import CommissionReport
from ib_insync.util import EPOCH

from bot.config import ExecutorConfig
from bot.dry_run import MATCHED_TYPES, DryMatcher, bar_path, price_tick
from bot.events import (
    CancelOrder,
    FillEvent,
    KillSwitch,
    ModifyOrder,
    OrderIntent,
    OrderSpec,
    OrderType,
    PlaceBracket,
    PlaceOrder,
    Rejection,
    Side,
    TargetPosition,
    WorkingOrder,
)
from bot.guard import check_account
from bot.journal import UNOWNED, Journal
from bot.order_book import OrderBook, OrderRecord
from bot.orders_build import (
    BRACKET_OCA_TYPE,
    OrderDefaults,
    apply_prices,
    build_order,
    make_order_ref,
    parse_order_ref,
    spec_from_order,
    validate_bracket,
    validate_spec,
)
from bot.pacing import PacingGovernor
from bot.ports import BrokerPort
from bot.positions import (
    Disagreement,
    PositionBook,
    PositionMismatchError,
    disagreements,
    mismatch_message,
)

log = logging.getLogger(__name__)

_TARGET_TAGS = ("target.", "flatten.")
_EPS = 1e-9
# Error codes that end an order without IB refusing it (202: cancelled as asked).
_NOT_REJECTIONS = frozenset({0, 202})


class OrderExecutor:
    """One per IB connection. Use: construct (the paper/live guard runs here),
    ``register_contract`` for every symbol, ``await reconcile(verify=traded symbols)`` after
    the first connect (``await reconcile()`` after a reconnect), then ``submit`` risk-approved
    intents; ``shutdown()`` on stop.

    ``position`` and ``working_orders`` are per strategy and per symbol; ``working_orders``
    is a live read-only view keyed by tag. ``commission`` totals IB's reports since start.
    """

    def __init__(
        self,
        broker: BrokerPort,
        cfg: ExecutorConfig,
        journal: Journal,
        *,
        account: str,
        dry_run: bool,
        now: Callable[[], datetime],
        mode: str = "paper",
        live: bool = False,
        pacing: PacingGovernor | None = None,
    ) -> None:
        """Raises bot.guard.GuardError for a non-paper account unless mode=="live" and live."""
        if not dry_run:
            check_account(account, mode=mode, live_flag=live)
        self.broker = broker
        self.cfg = cfg
        self.journal = journal
        self.account = account
        self.dry_run = dry_run
        self._now = now
        self.prefix = cfg.order_ref_prefix
        self._defaults = OrderDefaults(cfg.tif, cfg.outside_rth, account)
        self._pacer = pacing or PacingGovernor()
        self._contracts: dict[str, tuple[Contract, float]] = {}
        self._prices: dict[str, float] = {}
        self._book = OrderBook()
        self._positions = PositionBook(journal.positions())
        self._unowned: dict[str, float] = journal.unowned_positions()
        self._seq: dict[tuple[str, str], int] = journal.sequences()
        self._seen: set[str] = journal.exec_ids()
        self._commissioned: set[str] = set(self._seen)
        self._bound: dict[int, Trade] = {}
        self._dry_id = 0
        self._dry = DryMatcher()
        self._dry_seen: dict[str, datetime] = {}  # per symbol: end of the last bar matched
        self.fill_event = Event("fill_event")  # (strategy_id, FillEvent)
        self.order_event = Event("order_event")  # (strategy_id, WorkingOrder)
        self.rejection_event = Event("rejection_event")  # (Rejection,) broker/executor refusals

    # ---- queries ------------------------------------------------------------------------

    def register_contract(self, symbol: str, contract: Contract, min_tick: float) -> None:
        self._contracts[symbol] = (contract, min_tick)

    def update_price(self, symbol: str, price: float) -> None:
        """Latest price of a symbol: dry-run fills of flatten orders happen there, and in a
        dry run the resting orders on the symbol are matched against it."""
        self._prices[symbol] = price
        if self.dry_run:
            self._dry_match(symbol, [price], self._now(), None)

    def update_bar(
        self, symbol: str, open_: float, high: float, low: float, close: float, time: datetime
    ) -> None:
        """A closed bar (``time``: its end): as ``update_price(symbol, close)``, but a dry run
        matches the bar's path (open, extremes, close), so an intrabar touch triggers. A bar
        not after the last one matched on the symbol (a replay) only updates the price."""
        self._prices[symbol] = close
        if not self.dry_run:
            return
        last = self._dry_seen.get(symbol)
        if last is not None and time <= last:
            return
        self._dry_seen[symbol] = time
        self._dry_match(symbol, bar_path(open_, high, low, close), time, time)

    def position(self, strategy_id: str, symbol: str) -> float:
        return self._positions.get(strategy_id, symbol)

    def positions(self) -> dict[tuple[str, str], float]:
        return dict(self._positions.items())

    def working_orders(self, strategy_id: str, symbol: str) -> Mapping[str, WorkingOrder]:
        return self._book.views(strategy_id, symbol)

    def commission(self, strategy_id: str) -> float:
        return self._positions.commission(strategy_id)

    @property
    def pacing(self) -> PacingGovernor:
        return self._pacer

    # ---- intents ------------------------------------------------------------------------

    def submit(self, strategy_id: str, intent: OrderIntent, *, ref_price: float) -> None:
        """Act on one risk-approved intent; refusals go out on ``rejection_event``."""
        now = self._now()
        try:
            self._act(strategy_id, intent, ref_price)
        finally:
            # Journalled once the order is on the wire: the row only buffers, but the first
            # one after a commit arms the commit timer, and nothing should delay the order.
            self.journal.record_intent(strategy_id, intent, now)

    def _act(self, strategy_id: str, intent: OrderIntent, ref_price: float) -> None:
        if isinstance(intent, KillSwitch):
            # RiskManager.check has already halted the scope; here the cancel + flatten.
            scope = None if intent.scope == "all" else strategy_id
            self.cancel_all(scope)
            self.flatten(scope)
            return
        if ref_price > 0:
            self._prices[intent.symbol] = ref_price
        if isinstance(intent, PlaceOrder):
            self._place_single(strategy_id, intent, ref_price)
        elif isinstance(intent, PlaceBracket):
            self._place_bracket(strategy_id, intent, ref_price)
        elif isinstance(intent, ModifyOrder):
            self._modify(strategy_id, intent)
        elif isinstance(intent, CancelOrder):
            rec = self._book.working(strategy_id, intent.symbol, intent.tag)
            if rec is None:
                log.debug("cancel of %s/%s: nothing working", intent.symbol, intent.tag)
            else:
                self._cancel(rec)
        elif isinstance(intent, TargetPosition):
            self._target(strategy_id, intent, ref_price, "target")
        else:
            raise TypeError(f"the executor cannot submit {type(intent).__name__}")

    def _place_single(self, sid: str, intent: PlaceOrder, ref_price: float) -> None:
        if (why := self._cannot_place(intent.symbol, intent.tag, sid)) or (
            why := validate_spec(intent.order, intent.symbol)
        ):
            self._refuse(sid, intent, why)
            return
        seq = self._next_seq(sid, intent.symbol)
        rec = self._new_record(sid, intent, intent.tag, seq, intent.order, ref_price)
        self._send([rec])

    def _place_bracket(self, sid: str, intent: PlaceBracket, ref_price: float) -> None:
        sym, tag = intent.symbol, intent.tag
        why = self._cannot_place(sym, tag, sid) or validate_bracket(intent)
        for leg_tag in (f"{tag}.tp", f"{tag}.sl"):
            why = why or self._cannot_place(sym, leg_tag, sid)
        if why:
            self._refuse(sid, intent, why)
            return
        # One seq for the whole bracket: its refs differ by tag and share the number.
        seq = self._next_seq(sid, sym)
        parent = self._new_record(sid, intent, tag, seq, intent.entry, ref_price)
        legs = [parent]
        for suffix, spec in (("tp", intent.take_profit), ("sl", intent.stop_loss)):
            if spec is not None:
                leg_tag = f"{tag}.{suffix}"
                child = self._new_record(sid, intent, leg_tag, seq, spec, ref_price, parent)
                child.order.parentId = parent.order_id
                child.order.ocaGroup = parent.ref
                child.order.ocaType = BRACKET_OCA_TYPE
                legs.append(child)
        # Nothing may work before the last leg arrives: transmit False, False, True.
        for leg in legs:
            leg.order.transmit = leg is legs[-1]
        self._send(legs)

    def _modify(self, sid: str, intent: ModifyOrder) -> None:
        rec = self._book.working(sid, intent.symbol, intent.tag)
        if rec is None or rec.cancel_requested:
            self._refuse(sid, intent, f"no working order tagged {intent.tag!r} on {intent.symbol}")
            return
        spec = _modified(rec.spec, intent)
        why = validate_spec(spec, intent.symbol)
        if why is None and spec.quantity <= rec.filled + _EPS:
            why = f"cannot modify {intent.tag!r} to {spec.quantity:g}: {rec.filled:g} filled"
        if why:
            self._refuse(sid, intent, why)
            return
        rec.spec = spec
        apply_prices(rec.order, spec, self._contracts[intent.symbol][1])
        if self.dry_run:
            self._dry.modified(rec.order, trail_changed=intent.stop_price is not None)
        if rec.sent and not self.dry_run:
            rec.order.transmit = True  # a bracket leg placed with transmit=False must go now
            self._pacer.send(1, lambda: self._modify_now(rec))
        self._journal_order(rec, "Modify")  # after the wire, as for new orders
        # Unsent (queued) orders need nothing more: the queued placeOrder sends this Order.
        self._emit_view(rec)

    def _modify_now(self, rec: OrderRecord) -> None:
        trade = rec.trade
        if rec.done or trade is None or trade.isDone():
            log.info("modify of %s skipped: the order already ended", rec.ref)
            return
        self.broker.place_order(rec.contract, trade.order)  # same orderId: IB modifies in place

    def _target(self, sid: str, intent: TargetPosition, ref_price: float, kind: str) -> None:
        """One order for target - position - (orders in flight toward a target).

        A target trades at the executor's default order type (``executor.order_type``): MKT,
        or LMT at the reference price; a flatten is always MKT. Earlier target and flatten
        orders still working count as in flight, whatever their type, so a repeated target
        never sends the same shares twice.
        """
        symbol, target = intent.symbol, intent.quantity
        inflight = sum(
            r.spec.action.sign * r.remaining
            for r in self._book.working_on(sid, symbol)
            if not r.done
            and (r.spec.order_type is OrderType.MARKET or r.tag.startswith(_TARGET_TAGS))
        )
        diff = target - self.position(sid, symbol) - inflight
        if abs(diff) < _EPS:
            return
        side = Side.BUY if diff > 0 else Side.SELL
        if kind == "target" and self.cfg.order_type == "LMT":
            if not math.isfinite(ref_price) or ref_price <= 0:
                self._refuse(sid, intent, f"no price for a LMT target order on {symbol}")
                return
            spec = OrderSpec(side, abs(diff), OrderType.LIMIT, limit_price=ref_price)
        else:
            spec = OrderSpec(side, abs(diff), OrderType.MARKET)
        if why := self._cannot_place(symbol, kind, sid, check_tag=False):
            self._refuse(sid, intent, why)
            return
        seq = self._next_seq(sid, symbol)
        self._send([self._new_record(sid, intent, f"{kind}.{seq}", seq, spec, ref_price)])

    # ---- cancel / flatten ---------------------------------------------------------------

    def cancel_all(self, strategy_id: str | None = None) -> None:
        """Cancel every working order of one strategy (None: all of ours)."""
        for rec in self._book.all_working(strategy_id):
            self._cancel(rec)

    def flatten(self, strategy_id: str | None = None) -> None:
        """Cancel resting orders, then market orders that take each position to zero.

        Market orders already in flight are left alone (they are about to fill) and
        counted, so flatten never sends more than the position.
        """
        for rec in self._book.all_working(strategy_id):
            if rec.spec.order_type is not OrderType.MARKET:
                self._cancel(rec)
        for (sid, symbol), _ in self._positions.items():
            if strategy_id is None or sid == strategy_id:
                price = self._prices.get(symbol, math.nan)
                self._target(sid, TargetPosition(symbol, 0.0, "flatten"), price, "flatten")

    def shutdown(self) -> None:
        """On stop: cancel working orders if configured, send what is queued, flush."""
        if self.cfg.cancel_on_stop:
            self.cancel_all()
        self._pacer.flush_now()
        self.journal.flush()

    def _cancel(self, rec: OrderRecord) -> None:
        if rec.cancel_requested or rec.done:
            return
        rec.cancel_requested = True
        for child in rec.children:  # IB cancels the children with their parent
            child.cancel_requested = True
        if self.dry_run or not rec.sent:
            # Never reached IB (dry run, or still queued): it ends here.
            for r in (rec, *rec.children):
                self._set_status(r, OrderStatus.Cancelled, "cancelled before sending")
            return
        self._pacer.send(1, lambda: self._cancel_now(rec))

    def _cancel_now(self, rec: OrderRecord) -> None:
        if rec.trade is not None and not rec.trade.isDone():
            self.broker.cancel_order(rec.trade.order)

    # ---- building and sending -----------------------------------------------------------

    def _cannot_place(self, symbol: str, tag: str, sid: str, check_tag: bool = True) -> str | None:
        if symbol not in self._contracts:
            return f"{symbol} has no qualified contract (not in the universe?)"
        existing = self._book.working(sid, symbol, tag) if check_tag else None
        if existing is not None and not existing.cancel_requested:  # cancel-then-replace is fine
            return f"an order tagged {tag!r} is already working on {symbol}: use ModifyOrder"
        return None

    def _next_seq(self, sid: str, symbol: str) -> int:
        seq = self._seq.get((sid, symbol), 0) + 1
        self._seq[(sid, symbol)] = seq
        return seq

    def _new_record(
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
        contract, tick = self._contracts[symbol]
        ref = make_order_ref(self.prefix, sid, symbol, tag, seq)
        order = build_order(spec, tick=tick, defaults=self._defaults, order_ref=ref)
        order.orderId = self._next_order_id()
        rec = OrderRecord(sid, symbol, tag, seq, ref, contract, order, spec, intent, parent)
        rec.ref_price = ref_price
        if parent is not None:
            parent.children.append(rec)
        self._book.add(rec)
        return rec

    def _next_order_id(self) -> int:
        if self.dry_run:
            self._dry_id -= 1
            return self._dry_id
        return self.broker.next_order_id()

    def _send(self, legs: list[OrderRecord]) -> None:
        if self.dry_run:
            self._journal_new(legs)
            self._dry_accept(legs)
            return
        self._pacer.send(len(legs), lambda: self._place_now(legs))
        # Journalled once the legs are on the wire (or queued by the pacer), off the path
        # from the bar to the socket; a failed send journals them first (_place_now).
        self._journal_new(legs)

    def _journal_new(self, legs: list[OrderRecord]) -> None:
        for rec in legs:
            if not rec.journalled:
                rec.journalled = True
                self._journal_order(rec, "New")

    def _place_now(self, legs: list[OrderRecord]) -> None:
        live = [r for r in legs if not r.done]
        if live and live[-1].order.transmit is False:
            live[-1].order.transmit = True  # the last leg was cancelled while queued
        for rec in live:
            try:
                trade = self.broker.place_order(rec.contract, rec.order)
            except ConnectionError as e:
                self._journal_new(legs)  # the status update needs the order's row
                self._set_status(rec, OrderStatus.Cancelled, f"not sent: {e}")
                self._refuse(rec.strategy_id, rec.intent, f"{rec.ref} not sent: {e}")
                continue
            rec.sent = True
            self._bind(rec, trade)

    def _journal_order(self, rec: OrderRecord, event: str) -> None:
        self.journal.record_order(
            ref=rec.ref,
            strategy_id=rec.strategy_id,
            symbol=rec.symbol,
            tag=rec.tag,
            seq=rec.seq,
            order=rec.order,
            spec=rec.spec,
            now=self._now(),
            parent_ref=rec.parent.ref if rec.parent else None,
            event=event,
        )

    # ---- following trades ---------------------------------------------------------------

    def _bind(self, rec: OrderRecord, trade: Trade) -> None:
        rec.trade = trade
        if id(trade) in self._bound:
            return
        self._bound[id(trade)] = trade
        trade.statusEvent += self._on_status
        trade.fillEvent += self._on_fill
        trade.commissionReportEvent += self._on_commission

    def _unbind_done(self) -> None:
        """Forget finished trades (at reconcile: their late reports have long arrived)."""
        for key, trade in list(self._bound.items()):
            if trade.isDone():
                del self._bound[key]
                trade.statusEvent -= self._on_status
                trade.fillEvent -= self._on_fill
                trade.commissionReportEvent -= self._on_commission

    def _record_for(self, trade: Trade) -> OrderRecord | None:
        rec = self._book.by_id.get(trade.order.orderId)
        if rec is None or rec.ref != trade.order.orderRef:
            rec = self._book.by_ref.get(trade.order.orderRef)
        return rec

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
        self.journal.record_status(
            ref=rec.ref,
            order_id=rec.order_id,
            perm_id=st.permId,
            status=st.status,
            filled=st.filled,
            remaining=st.remaining,
            avg_fill_price=st.avgFillPrice,
            now=self._now(),
            message=message,
        )
        if (
            st.status == OrderStatus.Cancelled
            and entry is not None
            and entry.errorCode not in _NOT_REJECTIONS
        ):
            self._refuse(rec.strategy_id, rec.intent, f"IB rejected {rec.ref}: {message}")
        rec.status = st.status
        self._emit_view(rec)

    def _on_fill(self, trade: Trade, fill: Fill) -> None:
        rec = self._record_for(trade)
        if rec is not None:
            self._route_fill(rec.strategy_id, rec.symbol, rec.tag, rec.ref, fill, rec)

    def _on_commission(self, trade: Trade, fill: Fill, report: CommissionReport) -> None:
        rec = self._record_for(trade)
        if rec is not None:
            self._commission(rec.strategy_id, report)

    def _commission(self, sid: str, report: CommissionReport) -> None:
        if not report.execId or report.execId in self._commissioned:
            return
        self._commissioned.add(report.execId)
        self._positions.add_commission(sid, report.commission)
        self.journal.record_commission(report.execId, report.commission, report.realizedPNL)

    def _route_fill(
        self,
        sid: str,
        symbol: str,
        tag: str,
        ref: str,
        fill: Fill,
        rec: OrderRecord | None,
    ) -> bool:
        """Position, journal and strategy for one execution; False if already routed."""
        ex = fill.execution
        if ex.execId in self._seen:
            return False
        self._seen.add(ex.execId)
        side = Side.BUY if ex.side in ("BOT", "BUY") else Side.SELL
        when = ex.time if ex.time != EPOCH and ex.time.tzinfo else self._now()
        report = fill.commissionReport
        commission = report.commission if report.execId == ex.execId else 0.0
        self._positions.apply(sid, symbol, side.sign * ex.shares)
        self.journal.record_fill(
            exec_id=ex.execId,
            ref=ref,
            strategy_id=sid,
            symbol=symbol,
            tag=tag,
            order_id=ex.orderId,
            side=side.value,
            quantity=ex.shares,
            price=ex.price,
            commission=commission,
            time=when,
        )
        if report.execId == ex.execId:
            self._commission(sid, report)
        event = FillEvent(
            symbol, tag, side, ex.shares, ex.price, commission, when, ex.orderId, ex.execId
        )
        if rec is not None:
            rec.filled += ex.shares
            self._emit_view(rec)
        self.fill_event.emit(sid, event)
        return True

    def _set_status(self, rec: OrderRecord, status: str, message: str) -> None:
        rec.status = status
        self.journal.record_status(
            ref=rec.ref,
            order_id=rec.order_id,
            perm_id=0,
            status=status,
            filled=rec.filled,
            remaining=rec.remaining,
            avg_fill_price=0.0,
            now=self._now(),
            message=message,
        )
        self._emit_view(rec)

    def _emit_view(self, rec: OrderRecord) -> None:
        # A done trade stays bound: its commission reports still arrive after the last fill.
        view = self._book.refresh(rec)
        self.order_event.emit(rec.strategy_id, view)

    def _refuse(self, sid: str, intent: OrderIntent, reason: str) -> None:
        log.warning("%s: %s", sid, reason)
        rejection = Rejection(sid, intent, reason, self._now())
        self.journal.record_rejection(rejection)
        self.rejection_event.emit(rejection)

    # ---- dry run ------------------------------------------------------------------------

    def _dry_accept(self, legs: list[OrderRecord]) -> None:
        now = self._now()
        for rec in legs:
            rec.sent = True
            self._dry.accepted(rec.order, now)
            self._set_status(rec, OrderStatus.Submitted, "dry run")
        entry = legs[0]
        if entry.spec.order_type is OrderType.MARKET:
            _soon(lambda: self._dry_fill(entry))

    def _dry_fill(self, rec: OrderRecord) -> None:
        if rec.done or rec.cancel_requested:
            return
        price = rec.ref_price if rec.ref_price > 0 else self._prices.get(rec.symbol, math.nan)
        if not price > 0:
            log.warning("dry run: no price to fill %s; it stays working", rec.ref)
            return
        self._dry_execute(rec, price, "dry run fill")

    def _dry_match(
        self, symbol: str, prices: list[float], time: datetime, bar_end: datetime | None
    ) -> None:
        """Match the working dry-run orders on ``symbol`` against ``prices``, one tick each.

        On each tick, the orders working when it starts are matched in arrival order (bracket
        legs only once their entry has filled, so from the next tick on). ``bar_end``: the
        prices are a bar ending then, which only orders that arrived before it can meet.
        """
        if symbol not in self._contracts:
            return
        contract, min_tick = self._contracts[symbol]
        min_tick = min_tick if min_tick > 0 else 0.01
        for price in prices:
            if not (math.isfinite(price) and price > 0):
                continue
            tick = price_tick(price, time, contract.conId)
            active = [r for r in self._book.all_working() if self._dry_active(r, symbol, bar_end)]
            active.sort(key=lambda r: -r.order_id)  # dry ids count down: arrival order
            for rec in active:
                if rec.done or rec.cancel_requested:  # a fill on this tick ended it
                    continue
                fill_price = self._dry.match(rec.order, tick, min_tick)
                if fill_price is not None:
                    self._dry_execute(rec, fill_price, f"dry run fill: {rec.spec.order_type}")
                    self._dry_oca(rec)
        self._dry.forget(
            oid for oid in self._dry.tracked() if (r := self._book.by_id.get(oid)) is None or r.done
        )

    def _dry_active(self, rec: OrderRecord, symbol: str, bar_end: datetime | None) -> bool:
        if rec.symbol != symbol or rec.done or rec.cancel_requested:
            return False
        if rec.order.orderType not in MATCHED_TYPES:
            return False
        if rec.parent is not None and rec.parent.status != OrderStatus.Filled:
            return False  # a bracket leg works once its entry has filled
        return bar_end is None or self._dry.arrived_before(rec.order_id, bar_end)

    def _dry_oca(self, rec: OrderRecord) -> None:
        """A filled bracket leg ends its OCA siblings (type 3 reduces them by the fill; fills
        are whole, so nothing of them is left)."""
        group = rec.order.ocaGroup
        if not group or rec.parent is None:
            return
        for sib in rec.parent.children:
            if sib is not rec and sib.order.ocaGroup == group and not sib.done:
                sib.cancel_requested = True
                self._set_status(sib, OrderStatus.Cancelled, f"dry run: OCA, {rec.tag} filled")

    def _dry_execute(self, rec: OrderRecord, price: float, message: str) -> None:
        """One whole fill of ``rec`` at ``price``, routed as a live fill would be."""
        qty = rec.remaining
        exec_id = f"dry.{rec.ref}"
        ex = Execution(
            execId=exec_id,
            time=self._now(),
            acctNumber=self.account,
            side="BOT" if rec.spec.action is Side.BUY else "SLD",
            shares=qty,
            price=price,
            orderId=rec.order_id,
            cumQty=qty,
            avgPrice=price,
            orderRef=rec.ref,
        )
        rec.broker_filled = rec.spec.quantity
        rec.status = OrderStatus.Filled
        fill = Fill(rec.contract, ex, CommissionReport(), ex.time)
        self._route_fill(rec.strategy_id, rec.symbol, rec.tag, rec.ref, fill, rec)
        self._set_status(rec, OrderStatus.Filled, message)

    # ---- reconcile ----------------------------------------------------------------------

    async def reconcile(self, *, verify: Collection[str] = (), reset: bool = False) -> None:
        """At (re)connect: adopt our open orders, route executions we missed, then compare
        the strategies' positions with the account's.

        Open trades are bound first, synchronously, so a live fill that arrives while the
        executions request is in flight is already followed; every execution is routed
        at most once whichever path sees it first (dedupe by execId, journal included).

        ``verify`` (at start-up): the symbols the bot trades. On each, the positions restored
        from the journal (plus what a reset recorded as held outside the strategies) must add
        up to the account's position at IB; otherwise PositionMismatchError, and nothing has
        been sent. With ``reset`` the disagreeing symbols' strategies start flat instead and
        the account's figure is recorded as held outside them (journalled). Other symbols
        only log a mismatch.
        """
        now = self._now()
        if self.dry_run:
            self.journal.record_event("reconcile", "dry run: nothing at IB to reconcile", now)
            return
        self._unbind_done()
        open_ids = self._adopt_open_trades()
        fills = await self.broker.executions()
        routed = 0
        for fill in fills:
            parsed = parse_order_ref(fill.execution.orderRef, self.prefix)
            if parsed is None:
                continue
            rec = self._book.by_ref.get(fill.execution.orderRef)
            ref = fill.execution.orderRef
            routed += self._route_fill(
                parsed.strategy_id, parsed.symbol, parsed.tag, ref, fill, rec
            )
        self._settle_vanished(open_ids)
        msg = f"adopted {len(open_ids)} open orders, routed {routed} missed executions"
        log.info("reconcile: %s", msg)
        self.journal.record_event("reconcile", msg, now)
        self._verify_positions(set(verify), reset, now)

    def _verify_positions(self, verify: set[str], reset: bool, now: datetime) -> None:
        symbols = set(self._contracts)
        if verify:  # start-up: what the bot trades, and whatever its strategies hold
            symbols &= verify | {sym for (_, sym), _ in self._positions.items()}
        bad = disagreements(self._positions, self._unowned, self._account_positions(), symbols)
        refused = [d for d in bad if d.symbol in verify]
        for d in bad:
            if d.symbol not in verify:
                log.warning("position mismatch %s", d.describe())
                self.journal.record_event("position-mismatch", d.describe(), now)
        if not refused:
            return
        text = mismatch_message(self.account, self.journal.path, refused)
        if not reset:
            self.journal.record_event("position-mismatch", text, now)
            self.journal.flush()
            raise PositionMismatchError(text)
        self._reset_positions(refused, now)

    def _account_positions(self) -> dict[str, float]:
        """The account's position per registered symbol, as IB reports it."""
        by_con = {c.conId: sym for sym, (c, _) in self._contracts.items() if c.conId}
        out: dict[str, float] = {}
        for p in self.broker.positions():
            sym = by_con.get(p.contract.conId)
            if sym is not None and (not self.account or p.account == self.account):
                out[sym] = out.get(sym, 0.0) + p.position
        return out

    def _reset_positions(self, found: list[Disagreement], now: datetime) -> None:
        """--reset-positions: the strategies start flat on these symbols; the account's
        position there becomes 'held outside the strategies' (expected at the next start)."""
        for d in found:
            reason = f"--reset-positions: {d.describe()}"
            for sid, qty in d.strategies.items():
                self._positions.apply(sid, d.symbol, -qty)
                self.journal.record_adjustment(sid, d.symbol, -qty, reason, now)
            if abs(d.broker - d.unowned) > _EPS:
                self.journal.record_adjustment(UNOWNED, d.symbol, d.broker - d.unowned,
                                               reason, now)  # fmt: skip
            if abs(d.broker) > _EPS:
                self._unowned[d.symbol] = d.broker
            else:
                self._unowned.pop(d.symbol, None)
            log.warning("positions reset: %s; the strategies start flat on %s",
                        d.describe(), d.symbol)  # fmt: skip
            self.journal.record_event("positions-reset", reason, now)
        self.journal.flush()

    def _adopt_open_trades(self) -> set[int]:
        open_ids: set[int] = set()
        filled = self.journal.filled_by_ref()
        for trade in self.broker.open_trades():
            parsed = parse_order_ref(trade.order.orderRef, self.prefix)
            if parsed is None or trade.order.orderId <= 0:
                continue
            rec = self._book.by_ref.get(trade.order.orderRef)
            if rec is None:
                rec = self._adopt(trade, parsed.strategy_id, parsed.symbol, parsed.tag, parsed.seq)
                if rec is None:
                    continue
                rec.filled = filled.get(rec.ref, 0.0)
            old_id = rec.order_id
            rec.order = trade.order
            self._book.reindex(rec, old_id)
            rec.sent = True
            rec.status = trade.orderStatus.status or rec.status
            rec.broker_filled = max(rec.broker_filled, trade.orderStatus.filled)
            self._bind(rec, trade)
            open_ids.add(rec.order_id)
            key = (parsed.strategy_id, parsed.symbol)
            self._seq[key] = max(self._seq.get(key, 0), parsed.seq)
        return open_ids

    def _adopt(self, trade: Trade, sid: str, symbol: str, tag: str, seq: int) -> OrderRecord | None:
        try:
            spec = spec_from_order(trade.order)
        except ValueError:
            o = trade.order
            log.warning("cannot adopt %s: order type %s", o.orderRef, o.orderType)
            return None
        contract = self._contracts.get(symbol, (trade.contract, 0.0))[0]
        intent = PlaceOrder(symbol, spec, tag, "adopted at reconcile")
        ref = trade.order.orderRef
        rec = OrderRecord(sid, symbol, tag, seq, ref, contract, trade.order, spec, intent)
        parent = self._book.by_id.get(trade.order.parentId) if trade.order.parentId else None
        if parent is not None:
            rec.parent = parent
            parent.children.append(rec)
        self._book.add(rec)
        self._journal_order(rec, "Adopt")
        return rec

    def _settle_vanished(self, open_ids: set[int]) -> None:
        """Sent orders IB no longer lists as open ended while we were not looking."""
        final = {t.order.orderRef: t for t in self.broker.trades() if t.order.orderRef}
        for rec in self._book.all_working():
            if not rec.sent or rec.order_id in open_ids:
                continue
            trade = final.get(rec.ref)
            status = trade.orderStatus.status if trade else ""
            if status not in OrderStatus.DoneStates:
                status = OrderStatus.Cancelled
            # Executions were just routed: whatever filled is in rec.filled now.
            rec.broker_filled = rec.filled
            self._set_status(rec, status, "ended while disconnected")


def _modified(spec: OrderSpec, m: ModifyOrder) -> OrderSpec:
    changes: dict[str, object] = {}
    if m.quantity is not None:
        changes["quantity"] = m.quantity
    if m.limit_price is not None:
        changes["limit_price"] = m.limit_price
    if m.stop_price is not None:
        changes["stop_price"] = m.stop_price
    if m.trail_amount is not None:
        changes["trail_amount"] = m.trail_amount
        changes["trail_percent"] = None
    return replace(spec, **changes)  # type: ignore[arg-type]


def _soon(fn: Callable[[], None]) -> None:
    """On the next loop turn when a loop runs (fills never re-enter the caller), else now."""
    try:
        asyncio.get_running_loop().call_soon(fn)
    except RuntimeError:
        fn()
