"""OrderExecutor: risk-approved intents -> orders at the broker, followed to their end state.

Where an order goes next: ``submit`` turns an intent into OrderRecords and sends them
(bot/orders/placer.py: ib_insync Orders built by bot/orders/build.py, through the pacing governor
bot/orders/message_rate.py, to the broker port bot/ports/venue.py); the Trades the broker hands back
are followed by bot/orders/tracker.py, which routes each fill to its strategy through ``fill_event``
exactly once per execId, with commissions, and updates the per-strategy positions in the portfolio
(bot/portfolio/book.py). Target arithmetic is bot/model/targets.py; reconcile at (re)connect is
bot/orders/reconcile.py. Everything is journalled.

Dry run: the broker is the simulated one fed by the prices the executor learns
(bot/venues/dry_run.py): ``update_price`` and ``update_bar`` hand it every price, so a market
order fills at the next price seen and resting orders fill by the simulated broker's rules
(bot/sim/matching.py), the same engine as backtests and the simulated gateway. Nothing is
sent to IB; everything goes to the (dry-run) journal.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Collection, Mapping
from dataclasses import replace
from datetime import UTC, datetime

from eventkit import Event

from bot.client.ib import Contract, ContractDetails
from bot.config.executor import ExecutorConfig
from bot.journal.store import Journal
from bot.model.events import (
    CancelOrder,
    KillSwitch,
    ModifyOrder,
    OrderIntent,
    OrderSpec,
    OrderType,
    PlaceBracket,
    PlaceOrder,
    TargetPosition,
    WorkingOrder,
)
from bot.model.targets import in_flight, target_spec
from bot.orders.build import (
    BRACKET_OCA_TYPE,
    OrderDefaults,
    apply_prices,
    validate_bracket,
    validate_spec,
)
from bot.orders.guard import check_account
from bot.orders.message_rate import PacingGovernor
from bot.orders.placer import OrderPlacer
from bot.orders.pruning import OrderPruner
from bot.orders.reconcile import Reconciler
from bot.orders.records import OrderRecords
from bot.orders.tracker import OrderTracker
from bot.portfolio.book import Portfolio
from bot.ports.venue import BrokerPort, PriceFedBroker

log = logging.getLogger(__name__)

_EPS = 1e-9


class OrderExecutor:
    """One per broker connection. Use: construct (the paper/live guard runs here),
    ``register_contract`` for every symbol, ``await reconcile(verify=traded symbols)`` after
    the first connect (``await reconcile()`` after a reconnect), then ``submit`` risk-approved
    intents; ``shutdown()`` on stop.

    ``position`` and ``working_orders`` are per strategy and per symbol; ``working_orders``
    is a live read-only view keyed by tag. ``commission`` totals the broker's reports since
    start. A dry run needs a ``PriceFedBroker`` (bot/venues/dry_run.py): it sends nothing.
    """

    events = ("fill_event", "order_event", "rejection_event", "unprotected_event")

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
        portfolio: Portfolio | None = None,
        gate: Callable[[str, OrderIntent], None] | None = None,
    ) -> None:
        """``portfolio``: the one ledger its fills are booked in (default: rebuilt from the
        journal, UTC days). ``gate(strategy_id, intent)``: the risk stage's record of the
        orders the executor sends on its own (flatten), called before each, never refusing
        (bot/risk/manager.py RiskManager.own_order).

        Raises bot.orders.guard.GuardError for a non-paper account unless mode=="live" and live;
        TypeError for a dry run over a broker that would send orders."""
        self._fed: PriceFedBroker | None = None
        if dry_run:
            if not isinstance(broker, PriceFedBroker):
                raise TypeError(
                    f"a dry run sends nothing: it needs a broker fed by prices "
                    f"(bot.venues.dry_run.DryRunBroker), not {type(broker).__name__}"
                )
            self._fed = broker
        else:
            check_account(account, mode=mode, live_flag=live)
        self.broker = broker
        self.cfg = cfg
        self.journal = journal
        self.account = account
        self.dry_run = dry_run
        self._now = now
        self.prefix = cfg.order_ref_prefix
        self._pacer = pacing or PacingGovernor()
        self._prices: dict[str, float] = {}
        self._records = OrderRecords()
        self._positions = portfolio or Portfolio.restore(journal, UTC, now())
        # The placer is built with the tracker, so the tracker reaches its cancel through it.
        self._tracker = OrderTracker(self._records, self._positions, journal, now,
                                     cancel=lambda rec: self._placer.cancel(rec))  # fmt: skip
        defaults = OrderDefaults(cfg.tif, cfg.outside_rth, account)
        self._placer = OrderPlacer(
            broker, self._pacer, self._tracker, journal, prefix=self.prefix,
            defaults=defaults, now=now,
        )  # fmt: skip
        self._reconciler = Reconciler(self._placer, account, journal, now)
        self._pruner = OrderPruner(self._tracker, broker, self.prefix)
        self.fill_event: Event = self._tracker.fill_event  # (strategy_id, FillEvent)
        self.order_event: Event = self._tracker.order_event  # (strategy_id, WorkingOrder)
        self.rejection_event: Event = self._tracker.rejection_event  # (Rejection,)
        # (strategy_id, symbol, ref, error, signed quantity): a rejected protective stop
        self.unprotected_event: Event = self._tracker.unprotected_event
        self.gate = gate

    # ---- contracts and prices -----------------------------------------------------------

    def register_contract(
        self, symbol: str, contract: Contract, min_tick: float,
        details: ContractDetails | None = None,
    ) -> None:  # fmt: skip
        """A qualified contract; a dry run's broker also needs its ``details`` (trading
        hours, time zone) to simulate it."""
        self._placer.contracts[symbol] = (contract, min_tick)
        if self._fed is not None:
            self._fed.add_contract(contract, min_tick, details)

    def update_price(self, symbol: str, price: float) -> None:
        """Latest price of a symbol (flatten orders' reference); a dry run's broker trades
        at it."""
        self._prices[symbol] = price
        if self._fed is not None and symbol in self._placer.contracts:
            self._fed.on_price(self._placer.contracts[symbol][0], price, self._now())

    def update_bar(
        self, symbol: str, open_: float, high: float, low: float, close: float, time: datetime
    ) -> None:
        """A closed bar (``time``: its end): as ``update_price(symbol, close)``, but a dry run's
        broker trades the bar's path, so an intrabar touch triggers."""
        self._prices[symbol] = close
        if self._fed is not None and symbol in self._placer.contracts:
            contract = self._placer.contracts[symbol][0]
            self._fed.on_bar(contract, open_, high, low, close, time)

    # ---- queries ------------------------------------------------------------------------

    def position(self, strategy_id: str, symbol: str) -> float:
        return self._positions.get(strategy_id, symbol)

    def positions(self) -> dict[tuple[str, str], float]:
        return dict(self._positions.items())

    def working_orders(self, strategy_id: str, symbol: str) -> Mapping[str, WorkingOrder]:
        return self._records.views(strategy_id, symbol)

    def open_orders(self, strategy_id: str | None) -> int:
        """How many orders are working (one strategy's, or all of ours)."""
        return self._records.count(strategy_id)

    def working_on(self, symbol: str) -> list[WorkingOrder]:
        """Every strategy's working orders on one symbol."""
        return self._records.views_on(symbol)

    def commission(self, strategy_id: str) -> float:
        return self._positions.commission(strategy_id)

    @property
    def portfolio(self) -> Portfolio:
        return self._positions

    @property
    def pacing(self) -> PacingGovernor:
        return self._pacer

    @property
    def pruner(self) -> OrderPruner:
        return self._pruner

    # ---- intents ------------------------------------------------------------------------

    def submit(self, strategy_id: str, intent: OrderIntent, *, ref_price: float) -> None:
        """Act on one risk-approved intent; refusals go out on ``rejection_event``."""
        now = self._now()
        try:
            self._act(strategy_id, intent, ref_price)
        finally:
            # After the order went out: its own row was journalled ahead of it (write-ahead);
            # the intent's only buffers, and its serialising should not delay the order.
            self.journal.record_intent(strategy_id, intent, now)
            self._pruner.soon()  # finished orders, in batches, off this path (order_pruning.py)

    def _act(self, strategy_id: str, intent: OrderIntent, ref_price: float) -> None:
        if isinstance(intent, KillSwitch):
            # The risk stage has already halted the scope; here the cancel + flatten.
            self.kill(None if intent.scope == "all" else strategy_id)
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
            rec = self._records.working(strategy_id, intent.symbol, intent.tag)
            if rec is None:
                log.debug("cancel of %s/%s: nothing working", intent.symbol, intent.tag)
            else:
                self._placer.cancel(rec)
        elif isinstance(intent, TargetPosition):
            self._target(strategy_id, intent, ref_price, "target")
        else:
            raise TypeError(f"the executor cannot submit {type(intent).__name__}")

    def _place_single(self, sid: str, intent: PlaceOrder, ref_price: float) -> None:
        p = self._placer
        if (why := p.cannot_place(intent.symbol, intent.tag, sid)) or (
            why := validate_spec(intent.order, intent.symbol)
        ):
            self._tracker.refuse(sid, intent, why)
            return
        seq = p.next_seq(sid, intent.symbol)
        p.send([p.new_record(sid, intent, intent.tag, seq, intent.order, ref_price)])

    def _place_bracket(self, sid: str, intent: PlaceBracket, ref_price: float) -> None:
        p, sym, tag = self._placer, intent.symbol, intent.tag
        why = p.cannot_place(sym, tag, sid) or validate_bracket(intent)
        for leg_tag in (f"{tag}.tp", f"{tag}.sl"):
            why = why or p.cannot_place(sym, leg_tag, sid)
        if why:
            self._tracker.refuse(sid, intent, why)
            return
        # One seq for the whole bracket: its refs differ by tag and share the number.
        seq = p.next_seq(sid, sym)
        parent = p.new_record(sid, intent, tag, seq, intent.entry, ref_price)
        legs = [parent]
        for suffix, spec in (("tp", intent.take_profit), ("sl", intent.stop_loss)):
            if spec is not None:
                child = p.new_record(sid, intent, f"{tag}.{suffix}", seq, spec, ref_price, parent)
                child.order.parentId = parent.order_id
                child.order.ocaGroup = parent.ref
                child.order.ocaType = BRACKET_OCA_TYPE
                legs.append(child)
        # Nothing may work before the last leg arrives: transmit False, False, True.
        for leg in legs:
            leg.order.transmit = leg is legs[-1]
        p.send(legs)

    def _modify(self, sid: str, intent: ModifyOrder) -> None:
        rec = self._records.working(sid, intent.symbol, intent.tag)
        if rec is None or rec.cancel_requested:
            what = f"no working order tagged {intent.tag!r} on {intent.symbol}"
            self._tracker.refuse(sid, intent, what)
            return
        spec = _modified(rec.spec, intent)
        why = validate_spec(spec, intent.symbol)
        if why is None and spec.quantity <= rec.filled + _EPS:
            why = f"cannot modify {intent.tag!r} to {spec.quantity:g}: {rec.filled:g} filled"
        if why:
            self._tracker.refuse(sid, intent, why)
            return
        rec.spec = spec
        apply_prices(rec.order, spec, self._placer.contracts[intent.symbol][1])
        self._placer.modify(rec)
        self._tracker.emit_view(rec)

    def _target(self, sid: str, intent: TargetPosition, ref_price: float, kind: str) -> None:
        """One order for target - position - in flight (bot/model/targets.py). A target trades at
        the executor's default order type (``executor.order_type``): MKT, or LMT at the
        reference price; a flatten is always MKT."""
        symbol = intent.symbol
        limit = kind == "target" and self.cfg.order_type == "LMT"
        inflight = in_flight(self._records.views(sid, symbol).values())
        spec = target_spec(intent.quantity, self.position(sid, symbol), inflight,
                           ref_price if limit else None)  # fmt: skip
        if spec is None:
            return
        if limit and not (math.isfinite(ref_price) and ref_price > 0):
            why: str | None = f"no price for a LMT target order on {symbol}"
        else:
            why = self._placer.cannot_place(symbol, kind, sid, check_tag=False)
        if why:
            self._tracker.refuse(sid, intent, why)
            return
        seq = self._placer.next_seq(sid, symbol)
        rec = self._placer.new_record(sid, intent, f"{kind}.{seq}", seq, spec, ref_price)
        self._placer.send([rec])

    # ---- cancel / flatten / stop --------------------------------------------------------

    def cancel_all(self, strategy_id: str | None = None) -> None:
        """Cancel every working order of one strategy (None: all of ours)."""
        for rec in self._records.all_working(strategy_id):
            self._placer.cancel(rec)

    def kill(self, strategy_id: str | None = None) -> None:
        """The kill switch's orders: cancel the scope's working orders (the account's: IB's
        global cancel, reqGlobalCancel, which also reaches orders placed by hand), flatten."""
        if strategy_id is None:
            self._pacer.send(1, self.broker.global_cancel)
        self.cancel_all(strategy_id)
        self.flatten(strategy_id)

    def flatten(self, strategy_id: str | None = None, symbol: str | None = None) -> None:
        """Cancel resting orders, then market orders that take each position to zero (one
        strategy's or all; one symbol or all); each passes ``gate`` first.

        Market orders already in flight are left alone (they are about to fill) and
        counted, so flatten never sends more than the position.
        """
        for rec in self._records.all_working(strategy_id):
            if rec.spec.order_type is not OrderType.MARKET and symbol in (None, rec.symbol):
                self._placer.cancel(rec)
        for (sid, sym), _ in self._positions.items():
            if strategy_id not in (None, sid) or symbol not in (None, sym):
                continue
            intent = TargetPosition(sym, 0.0, "flatten")
            if self.gate is not None:
                self.gate(sid, intent)
            self._target(sid, intent, self._prices.get(sym, math.nan), "flatten")

    def shutdown(self) -> None:
        """On stop: cancel working orders if configured, send what is queued, flush."""
        if self.cfg.cancel_on_stop:
            self.cancel_all()
        self._pacer.flush_now()
        self.journal.flush()

    async def reconcile(self, *, verify: Collection[str] = (), reset: bool = False) -> None:
        """At (re)connect: adopt our open orders, route executions we missed, then compare
        the strategies' positions with the account's (bot/orders/reconcile.py). A dry run has
        nothing at IB to reconcile."""
        if self.dry_run:
            now = self._now()
            self.journal.record_event("reconcile", "dry run: nothing at IB to reconcile", now)
            return
        await self._reconciler.reconcile(verify=verify, reset=reset)


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

