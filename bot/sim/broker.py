"""SimBroker: the simulated IB broker (orders, fills, commissions, accounts).

One engine behind two front ends: the TWS-protocol gateway and the in-process backtester call
the same methods, so fills cannot drift between them. Every action returns the BrokerEvents IB
would report for it; the fill rules live in bot.sim.matching, order phases in bot.sim.orders,
the books of an account in bot.sim.account, IB's checks and texts in bot.sim.validation.

Time only comes in from the caller: ``now`` of an action, a tick's time, or ``on_time(now)``.
"""

from __future__ import annotations

import copy
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from ib_insync import CommissionReport, Contract, Execution, ExecutionFilter, Order

from bot.sim import validation as v
from bot.sim.account import Account, AccountValues
from bot.sim.broker_events import (
    BrokerEvent,
    ExecutionEvent,
    ExecutionRecord,
    OrderErrorEvent,
    OrderSnapshot,
    OrderStatusEvent,
    PnL,
    PnLSingle,
    PortfolioRow,
    PositionRow,
)
from bot.sim.commission import CommissionConfig, MonthlyVolume, Schedule, execution_charge
from bot.sim.executions import exec_id, matches
from bot.sim.instruments import Instrument, Instruments
from bot.sim.matching import CLOSE_TYPES, close_fill, decide, fill_quantity
from bot.sim.orders import (
    UNSET,
    Phase,
    SimOrder,
    SimOrderIndex,
    arrival_state,
    modified_state,
    oca_group,
    oca_type,
)
from bot.sim.types import SimTick

__all__ = [
    "BrokerConfig",
    "BrokerEvent",
    "ExecutionEvent",
    "ExecutionRecord",
    "OrderErrorEvent",
    "OrderSnapshot",
    "OrderStatusEvent",
    "PnL",
    "PnLSingle",
    "PortfolioRow",
    "PositionRow",
    "SimBroker",
]

# Fields a modify (placeOrder with a working orderId) may change.
_MODIFIABLE = (
    "totalQuantity",
    "lmtPrice",
    "auxPrice",
    "trailingPercent",
    "trailStopPrice",
    "tif",
    "outsideRth",
    "transmit",
    "orderRef",
    "goodTillDate",
)


@dataclass(frozen=True)
class BrokerConfig:
    """Broker settings. ``participation``: share of each tick's size one order may take
    (None = no cap). ``margin_rate``: initial margin as a share of gross position value
    (0.25 = BuyingPower 4x excess liquidity). Daily PnL restarts at midnight in ``day_tz``."""

    commission: CommissionConfig = field(default_factory=CommissionConfig)
    slippage_ticks: float = 0.0
    participation: float | None = None
    allow_short: bool = True
    margin_rate: float = 0.25
    check_buying_power: bool = True
    day_tz: str = "US/Eastern"
    first_perm_id: int = 1_000_001
    fill_at_quote: bool = True  # False: marketable orders fill at the trade price (no spread)

    @classmethod
    def of(
        cls,
        participation: float | None,
        slippage_ticks: float,
        commission: Schedule,
        *,
        fill_at: str = "quote",
    ) -> BrokerConfig:
        """The settings a run config or ``ibbot gateway`` chooses; the rest at defaults."""
        return cls(
            commission=CommissionConfig(schedule=commission),
            slippage_ticks=slippage_ticks,
            participation=participation,
            fill_at_quote=fill_at == "quote",
        )


class SimBroker:
    """Orders, matching and accounts of the simulated gateway and the backtester."""

    def __init__(
        self,
        instruments: Instruments,
        config: BrokerConfig | None = None,
        *,
        reference_price: Callable[[int, datetime], float | None] | None = None,
    ) -> None:
        """``reference_price(con_id, now)``: the market's last price at ``now``, used to check
        margin for a contract whose first tick has not reached the broker yet (None: such
        orders are not margin-checked)."""
        self.instruments = instruments
        self.config = config or BrokerConfig()
        self._reference_price = reference_price
        self._marks: dict[int, float] = {}
        self._accounts: dict[str, Account] = {}
        self._book = SimOrderIndex()
        self._executions: dict[str, list[ExecutionRecord]] = {}
        self._held: dict[tuple[str, int, int], list[SimOrder]] = {}  # transmit=False groups
        self._perm_id = self.config.first_perm_id - 1
        self._exec_seq = 0
        self._exec_session = secrets.randbits(32)
        self._day_tz = ZoneInfo(self.config.day_tz)
        self._month_volume = MonthlyVolume(self._day_tz)  # the ib_tiered commission tier
        self._next_roll: datetime | None = None

    # --- accounts ------------------------------------------------------------------------
    def open_account(self, account: str, cash: float) -> None:
        if account in self._accounts:
            raise ValueError(f"account {account!r} is already open")
        self._accounts[account] = Account(account, cash, self._marks, self.config.margin_rate)
        self._executions[account] = []

    def accounts(self) -> list[str]:
        return list(self._accounts)

    def mark(self, con_id: int) -> float | None:
        """The last trade price seen for ``con_id`` (what positions are valued at)."""
        return self._marks.get(con_id)

    def set_mark(self, con_id: int, price: float) -> None:
        """A last print the broker did not see as a tick (a backtest skips the ticks of
        instruments with nothing working): what positions are valued at from now on."""
        self._marks[con_id] = price

    def price(self, con_id: int, now: datetime) -> float | None:
        """The mark, or before the contract's first tick the reference price at ``now``."""
        mark = self._marks.get(con_id)
        if mark is None and self._reference_price is not None:
            mark = self._reference_price(con_id, now)
        return mark

    # --- order entry ---------------------------------------------------------------------
    def place_order(
        self, account: str, client_id: int, contract: Contract, order: Order, now: datetime
    ) -> list[BrokerEvent]:
        """A new order, or a modify when (account, client_id, orderId) is still working."""
        self._account(account)
        self._roll_day(now)
        existing = self._book.orders.get((account, client_id, order.orderId))
        if existing is not None:
            return self._modify(existing, contract, order, now)
        if self._book.was_forgotten(account, client_id, order.orderId):
            # Among the ids of finished orders of earlier days: IB refuses a reuse.
            return [self._error(account, client_id, order.orderId, v.simple(v.DUPLICATE_ID))]
        return self._new(account, client_id, contract, order, now)

    def cancel_order(
        self, account: str, client_id: int, order_id: int, now: datetime
    ) -> list[BrokerEvent]:
        o = self._book.orders.get((account, client_id, order_id))
        if o is None:
            return [self._error(account, client_id, order_id, v.cancel_not_found(order_id))]
        if o.done:
            rej = v.cancel_not_cancellable(order_id, o.final_status)
            return [self._error(account, client_id, order_id, rej)]
        events: list[BrokerEvent] = []
        self._cancel(o, now, events)
        return events

    def global_cancel(self, account: str, now: datetime) -> list[BrokerEvent]:
        """reqGlobalCancel: every open order of the account, whichever client placed it."""
        events: list[BrokerEvent] = []
        for o in self._book.of_account(account):
            if not o.done:
                self._cancel(o, now, events)
        return events

    # --- market --------------------------------------------------------------------------
    def on_tick(self, tick: SimTick) -> list[BrokerEvent]:
        """Match the working orders of ``tick.con_id``; ``tick.last`` becomes its mark."""
        events = self._advance(tick.time, inclusive=False)
        self._marks[tick.con_id] = tick.last
        working = self._book.working_on(tick.con_id)
        if not working:
            return events
        inst = self.instruments.by_con_id(tick.con_id)
        liquid = tick_is_liquid(inst, tick.time)
        if not self.config.fill_at_quote:  # one place: every fill rule then sees no spread
            tick = replace(tick, bid=tick.last, ask=tick.last)
        for o in working:
            lim = o.resting_limit
            if lim is not None and not _reaches(o.side, lim, tick):
                continue  # fast path: a resting limit the tick does not reach
            if o.phase is Phase.ACTIVE:
                self._match(o, tick, inst, liquid, events)
        return events

    def on_time(self, now: datetime) -> list[BrokerEvent]:
        """Time passed up to ``now`` with every tick up to it already given: expire DAY
        orders at the close, fill MOC/LOC at the closing price, roll the daily PnL."""
        return self._advance(now, inclusive=True)

    # --- queries -------------------------------------------------------------------------
    def working_con_ids(self) -> list[int]:
        """Contracts with working orders: the only ones a tick can change anything for."""
        return self._book.working_con_ids()

    def marked_con_ids(self) -> list[int]:
        return list(self._marks)

    def quiet_between(self, con_id: int, low: float, high: float) -> bool:
        """Whether no trade price in [low, high] (and the quotes around it) can change any
        working order on ``con_id``: each is a resting limit, stop or if-touched order that
        has met a tick since it arrived and whose price lies outside the range on the side
        that matters. Then its ticks there can be skipped."""
        inst = self.instruments.by_con_id(con_id)
        margin = inst.spread + inst.min_tick  # the quote is within this of the trade price
        for o in self._book.working_on(con_id):
            if o.match.fresh or o.phase is not Phase.ACTIVE:
                return False
            kind, side, order = o.order.orderType, o.side, o.order
            if kind == "LMT" or (kind == "STP LMT" and o.match.triggered):
                lmt = order.lmtPrice
                hit = low - margin <= lmt if side > 0 else high + margin >= lmt
            elif kind in ("STP", "STP LMT"):
                hit = high >= order.auxPrice if side > 0 else low <= order.auxPrice
            elif kind == "MIT":
                hit = low <= order.auxPrice if side > 0 else high >= order.auxPrice
            else:  # market, trailing (its stop moves with every print), at the close
                return False
            if hit:
                return False
        return True

    def takes_any_price(self, tick: SimTick) -> bool:
        """Whether every working order on the tick's contract fills whole on it, whatever
        its price and size (market orders, no participation cap, in their session): then
        no later tick matters to them."""
        if self.config.participation is not None:
            return False
        liquid = tick_is_liquid(self.instruments.by_con_id(tick.con_id), tick.time)
        return all(
            o.order.orderType == "MKT" and o.phase is Phase.ACTIVE and o.order.tif != "FOK"
            and (liquid or o.order.outsideRth)
            for o in self._book.working_on(tick.con_id)
        )

    def open_orders(self, account: str, client_id: int | None = None) -> list[OrderSnapshot]:
        return [
            o.snapshot()
            for o in self._book.of_account(account)
            if not o.done and client_id in (None, o.client_id)
        ]

    def max_order_id(self, account: str, client_id: int) -> int:
        """The highest orderId the client used in the account (0: none), forgotten ones too."""
        return self._book.top_id.get((account, client_id), 0)

    def completed_orders(self, account: str) -> list[OrderSnapshot]:
        """Filled, Cancelled and Inactive (rejected) orders of the current day (the broker's
        day_tz), in completion order."""
        return [o.snapshot() for o in self._book.completed.get(account, [])]

    def executions(self, account: str, flt: ExecutionFilter | None = None) -> list[ExecutionRecord]:
        """The current day's executions (the broker's day_tz), as IB's reqExecutions."""
        return [r for r in self._executions.get(account, []) if matches(r, flt)]

    def positions(self, account: str) -> list[PositionRow]:
        return self._account(account).position_rows()

    def portfolio(self, account: str) -> list[PortfolioRow]:
        return self._account(account).portfolio()

    def account_values(self, account: str) -> AccountValues:
        return self._account(account).values()

    def pnl(self, account: str) -> PnL:
        return self._account(account).pnl()

    def pnl_single(self, account: str, con_id: int) -> PnLSingle:
        return self._account(account).pnl_single(con_id)

    def account(self, account: str) -> Account:
        """The account's books (read them; change them only through orders)."""
        return self._account(account)

    # --- new orders, modifies, cancels ---------------------------------------------------
    def _new(
        self, account: str, client_id: int, contract: Contract, order: Order, now: datetime
    ) -> list[BrokerEvent]:
        inst = self.instruments.by_con_id(contract.conId)
        o = self._make_order(account, client_id, contract, inst, order, now)
        rej = self._check_new(o, now)
        if rej is not None:
            self._book.add(o)
            self._book.finish(o, "Inactive", now)
            o.reported_status = "Inactive"
            return [
                o.status_event("Inactive"),
                self._error(account, client_id, o.order.orderId, rej),
            ]
        self._book.add(o)
        events: list[BrokerEvent] = []
        if self._join_oca(o, now, events):
            return events
        if o.phase is Phase.HELD:
            self._held.setdefault(self._group_key(o), []).append(o)
            self._report(o, inst.is_liquid(now), events)
        else:
            self._transmit_group(o, now, events)
        return events

    def _make_order(
        self,
        account: str,
        client_id: int,
        contract: Contract,
        inst: Instrument,
        order: Order,
        now: datetime,
    ) -> SimOrder:
        own = copy.copy(order)
        self._perm_id += 1
        own.permId = self._perm_id
        own.clientId = client_id
        own.account = account
        own.tif = (own.tif or "DAY").upper()
        own.action = own.action.upper()
        o = SimOrder(
            account=account,
            client_id=client_id,
            contract=contract,
            instrument=inst,
            order=own,
            seq=self._book.next_seq(),
            phase=_initial_phase(own),
            placed_at=now,
        )
        self._set_deadlines(o, now)
        o.match = arrival_state(own)
        return o

    def _check_new(self, o: SimOrder, now: datetime) -> v.Rejection | None:
        rej = v.check_terms(o.order, o.instrument)
        if rej is None and o.order.parentId:
            parent = self._book.orders.get((o.account, o.client_id, o.order.parentId))
            if parent is None or (parent.done and parent.final_status != "Filled"):
                rej = v.rejected("Parent order is not working.")
        if rej is None:
            acct = self._accounts[o.account]
            qty = o.order.totalQuantity
            rej = v.check_short(acct, o.instrument, o.side, qty, self.config.allow_short)
            if rej is None and self.config.check_buying_power:
                con_id = o.instrument.con_id
                rej = v.check_margin(acct, con_id, o.side, qty, self.price(con_id, now))
        return rej

    def _group_key(self, o: SimOrder) -> tuple[str, int, int]:
        """A bracket is the parent and its children: keyed by the parent's orderId."""
        return (o.account, o.client_id, o.order.parentId or o.order.orderId)

    def _transmit_group(self, o: SimOrder, now: datetime, events: list[BrokerEvent]) -> None:
        """A transmit=True order sends the held orders of its group along with it (IB: the
        last child of a bracket transmits the whole bracket)."""
        group = self._held.pop(self._group_key(o), [])
        liquid = o.instrument.is_liquid(now)
        for member in [*group, o]:
            member.order.transmit = True
            if member.done:
                continue
            if member.order.parentId:
                self._attach_child(member)
            else:
                self._book.activate(member)
            self._report(member, liquid, events)

    def _attach_child(self, child: SimOrder) -> None:
        parent = self._book.orders.get((child.account, child.client_id, child.order.parentId))
        if parent is not None and parent.done and parent.final_status == "Filled":
            self._book.activate(child)
        else:
            child.phase = Phase.CHILD

    def _modify(
        self, o: SimOrder, contract: Contract, order: Order, now: datetime
    ) -> list[BrokerEvent]:
        oid = order.orderId
        if o.done:
            code = v.MODIFY_FILLED if o.final_status == "Filled" else v.DUPLICATE_ID
            return [self._error(o.account, o.client_id, oid, v.simple(code))]
        if contract.conId != o.contract.conId or order.action.upper() != o.order.action:
            return [self._error(o.account, o.client_id, oid, v.simple(v.MODIFY_MISMATCH))]
        if order.orderType != o.order.orderType:
            return [self._error(o.account, o.client_id, oid, v.simple(v.MODIFY_MISMATCH))]
        merged = copy.copy(o.order)
        for name in _MODIFIABLE:
            setattr(merged, name, getattr(order, name))
        merged.tif = (merged.tif or "DAY").upper()
        rej = v.check_terms(merged, o.instrument)
        if rej is None and merged.totalQuantity < o.filled:
            rej = v.rejected("The order size cannot be below the filled quantity.")
        if rej is not None:
            return [self._error(o.account, o.client_id, oid, rej)]
        return self._apply_modify(o, merged, now)

    def _apply_modify(self, o: SimOrder, merged: Order, now: datetime) -> list[BrokerEvent]:
        old = o.order
        o.order = merged
        o._terms = None
        o.resting_limit = None  # it arrives anew
        o.match = modified_state(
            o.match, merged, trail_changed=merged.trailStopPrice != old.trailStopPrice
        )
        if merged.tif != old.tif or merged.outsideRth != old.outsideRth:
            self._set_deadlines(o, now)
            self._book.schedule(o)
        events: list[BrokerEvent] = []
        if o.remaining <= 0:
            self._finish(o, "Filled", now, events)
            return events
        if o.phase is Phase.HELD and merged.transmit:
            held = self._held.get(self._group_key(o), [])
            if o in held:
                held.remove(o)
            self._transmit_group(o, now, events)
        o.reported_status = ""  # IB answers a modify with a fresh orderStatus
        self._report(o, o.instrument.is_liquid(now), events)
        return events

    def _cancel(
        self, o: SimOrder, now: datetime, events: list[BrokerEvent], reason: str = ""
    ) -> None:
        """Cancel one order and, if it is a parent, its children (status + error 202)."""
        self._finish(o, "Cancelled", now, events)
        text = v.TEXT[v.CANCELLED] + reason
        events.append(OrderErrorEvent(o.account, o.client_id, o.order.orderId, v.CANCELLED, text))
        for child in self._book.children(o):
            self._cancel(child, now, events)

    def _finish(self, o: SimOrder, status: str, now: datetime, events: list[BrokerEvent]) -> None:
        self._book.finish(o, status, now)
        held = self._held.get(self._group_key(o))
        if held and o in held:
            held.remove(o)
        o.reported_status = status
        events.append(o.status_event(status))

    # --- time ----------------------------------------------------------------------------
    def _advance(self, now: datetime, inclusive: bool) -> list[BrokerEvent]:
        self._roll_day(now)
        events: list[BrokerEvent] = []
        for o in list(self._book.due(now, inclusive)):
            if o.done:
                continue
            if o.close_at is not None and o.phase is Phase.ACTIVE:
                self._fill_at_close(o, self._marks.get(o.contract.conId), o.close_at, events)
            else:
                self._cancel(o, now, events)
        return events

    def _roll_day(self, now: datetime) -> None:
        if self._next_roll is not None and now < self._next_roll:
            return
        local = now.astimezone(self._day_tz)
        if self._next_roll is not None:
            for acct in self._accounts.values():
                acct.start_day()
            self._forget_before(datetime.combine(local.date(), time(0), self._day_tz))
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), self._day_tz)
        self._next_roll = midnight.astimezone(now.tzinfo)

    def _forget_before(self, day_start: datetime) -> None:
        """A new day: what reqCompletedOrders and reqExecutions answer starts again (IB: the
        current day's), so earlier completed orders and executions are dropped. A long run
        then holds one day's orders, whatever its length."""
        self._book.forget_completed(day_start)
        for account, recs in self._executions.items():
            if recs and recs[0].execution.time < day_start:
                self._executions[account] = [r for r in recs if r.execution.time >= day_start]

    def _set_deadlines(self, o: SimOrder, now: datetime) -> None:
        """DAY: the session close (outsideRth: the end of the extended session); MOC/LOC:
        the close of the regular session."""
        inst, order = o.instrument, o.order
        o.expires_at = None
        o.close_at = None
        if order.orderType in CLOSE_TYPES:
            o.close_at = _next_close(inst, now, liquid=True)
        elif order.tif == "DAY":
            o.expires_at = _next_close(inst, now, liquid=not order.outsideRth)

    # --- matching ------------------------------------------------------------------------
    def _match(
        self, o: SimOrder, tick: SimTick, inst: Instrument, liquid: bool, events: list[BrokerEvent]
    ) -> None:
        if o.order.orderType in CLOSE_TYPES:
            # The closing print is at the session's end, just outside liquid hours.
            if o.close_at is not None and tick.time >= o.close_at:
                self._fill_at_close(o, tick.last, tick.time, events)
            return
        if not liquid and not o.order.outsideRth:
            return  # held until the regular session: stays PreSubmitted
        decision = decide(o.terms(), o.match, tick, inst.min_tick, self.config.slippage_ticks)
        o.match = decision.state
        tif = o.order.tif
        qty = 0.0
        if decision.price is not None:
            qty = fill_quantity(o.remaining, tick.last_size, self.config.participation)
            if tif == "FOK" and qty < o.remaining:
                qty = 0.0
        if qty > 0 and decision.price is not None:
            # A marketable order takes liquidity (2); a resting one adds it (1).
            taker = o.order.orderType != "LMT" or decision.price != o.order.lmtPrice
            self._execute(o, qty, decision.price, tick.time, 2 if taker else 1, events)
        if not o.done and tif in ("IOC", "FOK"):
            self._cancel(o, tick.time, events)
        elif not o.done:
            self._report(o, liquid, events)
            rests = o.order.orderType == "LMT" or (
                o.order.orderType == "STP LMT" and o.match.triggered
            )
            o.resting_limit = o.order.lmtPrice if rests else None

    def _fill_at_close(
        self, o: SimOrder, price: float | None, when: datetime, events: list[BrokerEvent]
    ) -> None:
        fill = close_fill(o.terms(), price) if price is not None else None
        if fill is None:
            self._cancel(o, when, events)
        else:
            self._execute(o, o.remaining, fill, when, 2, events)

    def _execute(
        self,
        o: SimOrder,
        qty: float,
        price: float,
        when: datetime,
        liquidity: int,
        events: list[BrokerEvent],
    ) -> None:
        """Book one execution and report it; then completion, children and OCA siblings."""
        inst = o.instrument
        stock = inst.sec_type == "STK"  # stock volume sets the ib_tiered rate
        charge = execution_charge(
            self.config.commission,
            inst.sec_type,
            prior_qty=o.filled,
            prior_value=o.filled_value,
            prior_share_fees=o.share_fees,
            qty=qty,
            price=price,
            month_shares=self._month_volume.record(o.account, when, qty) if stock else 0.0,
        )
        fee = charge.fee
        o.share_fees = charge.share_fees
        result = self._accounts[o.account].apply_fill(o.contract, o.side, qty, price, fee)
        o.filled += qty
        o.filled_value += qty * price
        o.last_fill_price = price
        execution, report = self._execution_records(o, qty, price, when, liquidity, fee)
        report.realizedPNL = UNSET if result.realized is None else round(result.realized, 6)
        rec = ExecutionRecord(o.account, o.client_id, o.contract, execution, report)
        self._executions[o.account].append(rec)
        events.append(
            ExecutionEvent(
                o.account,
                o.client_id,
                o.contract,
                copy.copy(execution),
                copy.copy(report),
                o.public_order(),
            )
        )
        if o.remaining <= 0:
            self._finish(o, "Filled", when, events)
            self._activate_children(o, when, events)
        else:
            o.reported_status = "Submitted"  # a filling order is working, whatever it was
            events.append(o.status_event("Submitted"))
        self._apply_oca(o, qty, when, events)

    def _execution_records(
        self, o: SimOrder, qty: float, price: float, when: datetime, liquidity: int, fee: float
    ) -> tuple[Execution, CommissionReport]:
        self._exec_seq += 1
        inst = o.instrument
        eid = exec_id(self._exec_session, self._exec_seq)
        execution = Execution(
            execId=eid,
            time=when,
            acctNumber=o.account,
            exchange=inst.primary_exchange or inst.exchange,
            side="BOT" if o.side > 0 else "SLD",
            shares=qty,
            price=price,
            permId=o.order.permId,
            clientId=o.client_id,
            orderId=o.order.orderId,
            cumQty=o.filled,
            avgPrice=round(o.avg_fill_price, 8),
            orderRef=o.order.orderRef,
            lastLiquidity=liquidity,
        )
        report = CommissionReport(
            execId=eid, commission=fee, currency=self._accounts[o.account].currency, yield_=UNSET
        )
        return execution, report

    def _activate_children(
        self, parent: SimOrder, now: datetime, events: list[BrokerEvent]
    ) -> None:
        liquid = parent.instrument.is_liquid(now)
        for child in self._book.children(parent):
            if child.phase is Phase.CHILD:
                self._book.activate(child)
                self._report(child, liquid, events)

    def _join_oca(self, o: SimOrder, now: datetime, events: list[BrokerEvent]) -> bool:
        """An order joining an OCA group that has already traded: type 1 is cancelled, types
        2 and 3 are reduced by what the group filled. True if it was cancelled."""
        group = oca_group(o)
        done = self._book.oca_filled.get((o.account, *group), 0.0) if group else 0.0
        if done <= 0:
            return False
        if oca_type(o) != 1:
            o.order.totalQuantity = max(o.order.totalQuantity - done, 0.0)
            if o.remaining > 0:
                return False
        self._cancel(o, now, events, reason="OCA group")
        return True

    def _apply_oca(self, o: SimOrder, qty: float, now: datetime, events: list[BrokerEvent]) -> None:
        """A fill in one member of an OCA group: type 1 cancels the others, types 2 and 3
        reduce their quantity by the filled amount (fills are sequential here, so the
        non-blocking type 3 cannot overfill either)."""
        group = oca_group(o)
        if group is None:
            return
        key = (o.account, *group)
        self._book.oca_filled[key] = self._book.oca_filled.get(key, 0.0) + qty
        siblings = self._book.oca_siblings(o)
        if not siblings:
            return
        kind = oca_type(o)
        for s in siblings:
            if kind == 1:
                self._cancel(s, now, events, reason="OCA group")
                continue
            s.order.totalQuantity = max(s.order.totalQuantity - qty, s.filled)
            if s.remaining > 0:
                s.reported_status = ""
                self._report(s, s.instrument.is_liquid(now), events)
            elif s.filled > 0:
                self._finish(s, "Filled", now, events)
            else:
                self._cancel(s, now, events, reason="OCA group")

    def _report(self, o: SimOrder, liquid: bool, events: list[BrokerEvent]) -> None:
        status = o.status(liquid)
        if status != o.reported_status:
            o.reported_status = status
            events.append(o.status_event(status))

    def _error(
        self, account: str, client_id: int, order_id: int, rej: v.Rejection
    ) -> OrderErrorEvent:
        return OrderErrorEvent(account, client_id, order_id, rej.code, rej.text)

    def _account(self, account: str) -> Account:
        try:
            return self._accounts[account]
        except KeyError:
            raise KeyError(f"unknown account {account!r}") from None


def tick_is_liquid(inst: Instrument, t: datetime) -> bool:
    """Whether a trade printed at ``t`` belongs to the regular session. A tick stands for the
    trading just before its time stamp (a bar's ticks fall in (start, end], its close at the
    end), so a session's bounds count as (open, close]: the print at 09:30:00 closes the
    pre-market's last bar, the print at 16:00:00 closes the session's last bar."""
    return inst.is_liquid(t - _JUST_BEFORE)


_JUST_BEFORE = timedelta(microseconds=1)


def _initial_phase(order: Order) -> Phase:
    if not order.transmit:
        return Phase.HELD
    return Phase.CHILD if order.parentId else Phase.ACTIVE


def _reaches(side: int, limit: float, tick: SimTick) -> bool:
    """Could this tick fill a resting limit (last through it, or the quote crossing it)?"""
    eps = 1e-9
    if side > 0:
        return tick.ask <= limit + eps or tick.last < limit - eps
    return tick.bid >= limit - eps or tick.last > limit + eps


def _next_close(inst: Instrument, now: datetime, liquid: bool) -> datetime | None:
    """The end of the first (regular or extended) session ending after ``now``."""
    day = now.astimezone(inst.tz).date()
    for i in range(10):
        d = day + timedelta(days=i)
        bounds = inst.liquid_session(d) if liquid else inst.trading_session(d)
        if bounds is not None and bounds[1] > now:
            return bounds[1]
    return None
