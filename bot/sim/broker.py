"""SimBroker: the simulated IB broker (orders, fills, commissions, accounts).

One engine behind two front ends: the TWS-protocol gateway and the in-process backtester call
the same methods, so fills cannot drift between them. Every action returns the BrokerEvents IB
would report for it. The fill rules live in bot.sim.matching, order phases in bot.sim.orders,
their shared transitions (brackets, OCA) in bot.sim.order_life, a new order's terms and a
modify's in bot.sim.order_entry, executions and commissions in bot.sim.executions, the books
of an account in bot.sim.account, IB's checks and texts in bot.sim.validation.

Time only comes in from the caller: ``now`` of an action, a tick's time, or ``on_time(now)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo

from ib_insync import Contract, ExecutionFilter, Order

from bot.sim import validation as v
from bot.sim.account import Account
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
from bot.sim.commission import CommissionConfig, Schedule
from bot.sim.executions import ExecutionLog
from bot.sim.instruments import Instrument, Instruments
from bot.sim.matching import CLOSE_TYPES, close_fill, decide, fill_quantity
from bot.sim.order_entry import modified, new_sim_order, set_deadlines
from bot.sim.order_life import OrderLife
from bot.sim.orders import Phase, SimOrder, SimOrderIndex, modified_state
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
        self._life = OrderLife(self._book)
        day_tz = ZoneInfo(self.config.day_tz)
        self._fills = ExecutionLog(self.config.commission, day_tz)
        self._perm_id = self.config.first_perm_id - 1
        self._day_tz = day_tz
        self._next_roll: datetime | None = None

    # --- accounts ------------------------------------------------------------------------
    def open_account(self, account: str, cash: float) -> None:
        if account in self._accounts:
            raise ValueError(f"account {account!r} is already open")
        self._accounts[account] = Account(account, cash, self._marks, self.config.margin_rate)
        self._fills.open(account)

    def accounts(self) -> list[str]:
        return list(self._accounts)

    def account(self, account: str) -> Account:
        """The account's books (read them; change them only through orders): positions,
        portfolio, values, PnL."""
        try:
            return self._accounts[account]
        except KeyError:
            raise KeyError(f"unknown account {account!r}") from None

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
        self.account(account)
        self._roll_day(now)
        existing = self._book.orders.get((account, client_id, order.orderId))
        if existing is not None:
            return self._modify(existing, contract, order, now)
        if self._book.was_forgotten(account, client_id, order.orderId):
            # Among the ids of finished orders of earlier days: IB refuses a reuse.
            return [_error(account, client_id, order.orderId, v.simple(v.DUPLICATE_ID))]
        return self._new(account, client_id, contract, order, now)

    def cancel_order(
        self, account: str, client_id: int, order_id: int, now: datetime
    ) -> list[BrokerEvent]:
        o = self._book.orders.get((account, client_id, order_id))
        if o is None:
            return [_error(account, client_id, order_id, v.cancel_not_found(order_id))]
        if o.done:
            rej = v.cancel_not_cancellable(order_id, o.final_status)
            return [_error(account, client_id, order_id, rej)]
        events: list[BrokerEvent] = []
        self._life.cancel(o, now, events)
        return events

    def global_cancel(self, account: str, now: datetime) -> list[BrokerEvent]:
        """reqGlobalCancel: every open order of the account, whichever client placed it."""
        events: list[BrokerEvent] = []
        for o in self._book.of_account(account):
            if not o.done:
                self._life.cancel(o, now, events)
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

    def working_on(self, con_id: int) -> list[SimOrder]:
        """The contract's working orders, in time priority (bot.sim.tick_skipping reads them)."""
        return self._book.working_on(con_id)

    def marked_con_ids(self) -> list[int]:
        return list(self._marks)

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
        return self._fills.of(account, flt)

    # --- new orders, modifies ------------------------------------------------------------
    def _new(
        self, account: str, client_id: int, contract: Contract, order: Order, now: datetime
    ) -> list[BrokerEvent]:
        inst = self.instruments.by_con_id(contract.conId)
        self._perm_id += 1
        o = new_sim_order(account, client_id, contract, inst, order, now,
                          perm_id=self._perm_id, seq=self._book.next_seq())  # fmt: skip
        rej = self._check_new(o, now)
        self._book.add(o)
        if rej is not None:
            self._book.finish(o, "Inactive", now)
            o.reported_status = "Inactive"
            return [o.status_event("Inactive"), _error(account, client_id, o.order.orderId, rej)]
        events: list[BrokerEvent] = []
        if self._life.join_oca(o, now, events):
            return events
        if o.phase is Phase.HELD:
            self._life.hold(o, inst.is_liquid(now), events)
        else:
            self._life.transmit(o, inst.is_liquid(now), events)
        return events

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

    def _modify(
        self, o: SimOrder, contract: Contract, order: Order, now: datetime
    ) -> list[BrokerEvent]:
        merged = modified(o, contract, order)
        if isinstance(merged, v.Rejection):
            return [_error(o.account, o.client_id, order.orderId, merged)]
        old = o.order
        o.order = merged
        o._terms = None
        o.resting_limit = None  # it arrives anew
        o.match = modified_state(
            o.match, merged, trail_changed=merged.trailStopPrice != old.trailStopPrice
        )
        if merged.tif != old.tif or merged.outsideRth != old.outsideRth:
            set_deadlines(o, now)
            self._book.schedule(o)
        events: list[BrokerEvent] = []
        if o.remaining <= 0:
            self._life.finish(o, "Filled", now, events)
            return events
        liquid = o.instrument.is_liquid(now)
        if o.phase is Phase.HELD and merged.transmit:
            self._life.unhold(o)
            self._life.transmit(o, liquid, events)
        o.reported_status = ""  # IB answers a modify with a fresh orderStatus
        self._life.report(o, liquid, events)
        return events

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
                self._life.cancel(o, now, events)
        return events

    def _roll_day(self, now: datetime) -> None:
        """A new day: what reqCompletedOrders and reqExecutions answer starts again (IB: the
        current day's), so earlier completed orders and executions are dropped. A long run
        then holds one day's orders, whatever its length."""
        if self._next_roll is not None and now < self._next_roll:
            return
        local = now.astimezone(self._day_tz)
        if self._next_roll is not None:
            for acct in self._accounts.values():
                acct.start_day()
            day_start = datetime.combine(local.date(), time(0), self._day_tz)
            self._book.forget_completed(day_start)
            self._fills.forget_before(day_start)
        midnight = datetime.combine(local.date() + timedelta(days=1), time(0), self._day_tz)
        self._next_roll = midnight.astimezone(now.tzinfo)

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
            self._life.cancel(o, tick.time, events)
        elif not o.done:
            self._life.report(o, liquid, events)
            rests = o.order.orderType == "LMT" or (
                o.order.orderType == "STP LMT" and o.match.triggered
            )
            o.resting_limit = o.order.lmtPrice if rests else None

    def _fill_at_close(
        self, o: SimOrder, price: float | None, when: datetime, events: list[BrokerEvent]
    ) -> None:
        fill = close_fill(o.terms(), price) if price is not None else None
        if fill is None:
            self._life.cancel(o, when, events)
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
        events.append(self._fills.book(o, self._accounts[o.account], qty, price, when, liquidity))
        if o.remaining <= 0:
            self._life.finish(o, "Filled", when, events)
            self._life.activate_children(o, o.instrument.is_liquid(when), events)
        else:
            o.reported_status = "Submitted"  # a filling order is working, whatever it was
            events.append(o.status_event("Submitted"))
        self._life.apply_oca(o, qty, when, events)


def tick_is_liquid(inst: Instrument, t: datetime) -> bool:
    """Whether a trade printed at ``t`` belongs to the regular session. A tick stands for the
    trading just before its time stamp (a bar's ticks fall in (start, end], its close at the
    end), so a session's bounds count as (open, close]: the print at 09:30:00 closes the
    pre-market's last bar, the print at 16:00:00 closes the session's last bar."""
    return inst.is_liquid(t - _JUST_BEFORE)


_JUST_BEFORE = timedelta(microseconds=1)


def _reaches(side: int, limit: float, tick: SimTick) -> bool:
    """Could this tick fill a resting limit (last through it, or the quote crossing it)?"""
    eps = 1e-9
    if side > 0:
        return tick.ask <= limit + eps or tick.last < limit - eps
    return tick.bid >= limit - eps or tick.last > limit + eps


def _error(account: str, client_id: int, order_id: int, rej: v.Rejection) -> OrderErrorEvent:
    return OrderErrorEvent(account, client_id, order_id, rej.code, rej.text)
