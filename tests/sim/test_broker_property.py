"""Property: random place/modify/cancel sequences against a random price path never break the
account identities, never fill at a price the order type forbids, never overfill."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

import pytest
from broker_helpers import AAPL, ACCT, OPEN, broker, contract, order
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bot.sim.broker import ExecutionEvent, OrderStatusEvent, SimBroker
from bot.sim.orders import UNSET, is_set
from bot.sim.types import SimTick

CASH = 1_000_000.0
KINDS = ["MKT", "LMT", "STP", "STP LMT", "TRAIL", "MIT", "MOC", "LOC"]

cents = st.integers(min_value=-300, max_value=300)  # price offsets from the current mark
tick_step = st.tuples(st.just("tick"), st.integers(-80, 80), st.integers(0, 800))
place_step = st.tuples(
    st.just("place"),
    st.sampled_from(KINDS),
    st.sampled_from(["BUY", "SELL"]),
    st.integers(1, 300),
    cents,
    cents,
    st.sampled_from(["DAY", "GTC", "IOC", "FOK"]),
    st.sampled_from([None, None, "g1", "g2"]),
    st.integers(1, 3),
    st.booleans(),
)
modify_step = st.tuples(st.just("modify"), st.integers(0, 50), cents, st.integers(1, 300))
cancel_step = st.tuples(st.just("cancel"), st.integers(0, 50))
steps = st.lists(
    st.one_of(tick_step, tick_step, place_step, modify_step, cancel_step), min_size=20, max_size=80
)


class Checker:
    """Replays the broker's events into an independent ledger and checks every fill."""

    def __init__(self, b: SimBroker) -> None:
        self.b = b
        self.cash = CASH
        self.position = 0.0
        self.realized = 0.0
        self.fees = 0.0
        self.exec_ids: list[str] = []  # every execution, in order
        self.fills: dict[int, float] = defaultdict(float)  # orderId -> shares
        self.armed: dict[int, bool] = {}  # stop/MIT orderId -> trigger seen since (re)placed
        self.oca: dict[str, tuple[int, float, str]] = {}  # group -> (type, qty, action)
        self.oca_fills: dict[str, float] = defaultdict(float)
        self.last = 100.0

    def arm(self, oid: int, terms: tuple[str, str, float]) -> None:
        kind, action, aux = terms
        hit = self.last >= aux if action == "BUY" else self.last <= aux
        if kind == "MIT":
            hit = self.last <= aux if action == "BUY" else self.last >= aux
        self.armed[oid] = self.armed.get(oid, False) or hit

    def events(self, events: list) -> None:
        for e in events:
            if isinstance(e, ExecutionEvent):
                self.execution(e)
            elif isinstance(e, OrderStatusEvent):
                assert e.filled + e.remaining == pytest.approx(e.order.totalQuantity)
                if e.status == "Filled":
                    assert e.remaining == 0

    def execution(self, e: ExecutionEvent) -> None:
        ex, o, cr = e.execution, e.order, e.commission_report
        side = 1 if ex.side == "BOT" else -1
        self.cash -= side * ex.shares * ex.price + cr.commission
        self.position += side * ex.shares
        self.fees += cr.commission
        self.exec_ids.append(ex.execId)
        if cr.realizedPNL != UNSET:
            self.realized += cr.realizedPNL
        self.fills[ex.orderId] += ex.shares
        assert ex.cumQty == pytest.approx(self.fills[ex.orderId])
        assert ex.cumQty <= o.totalQuantity + 1e-9
        assert round(ex.price / 0.01, 6) % 1 == 0  # on the tick grid
        if is_set(o.lmtPrice) and o.orderType in ("LMT", "STP LMT", "LOC"):
            assert ex.price <= o.lmtPrice + 1e-9 if side > 0 else ex.price >= o.lmtPrice - 1e-9
        if o.orderType in ("STP", "STP LMT", "MIT"):
            assert self.armed.get(ex.orderId), "stop filled before its trigger traded"
        if o.ocaGroup:
            self.oca_fills[o.ocaGroup] += ex.shares
            assert self.oca_fills[o.ocaGroup] <= self.oca[o.ocaGroup][1] + 1e-9

    def account(self) -> None:
        acct = self.b.account(ACCT)
        assert acct.cash == pytest.approx(self.cash, abs=1e-6)
        pos = acct.positions.get(AAPL)
        assert (pos.qty if pos else 0.0) == pytest.approx(self.position)
        assert acct.realized() == pytest.approx(self.realized, abs=1e-4)
        mark = self.b.mark(AAPL) or 0.0
        nlv = acct.cash + self.position * mark
        assert acct.net_liquidation() == pytest.approx(nlv)
        assert nlv == pytest.approx(CASH + acct.realized() + acct.unrealized(), abs=1e-4)
        assert acct.commissions == pytest.approx(self.fees)
        # reqExecutions: the day's executions, so the latest ones (test_broker_memory.py).
        kept = [r.execution.execId for r in self.b.executions(ACCT)]
        assert kept == self.exec_ids[len(self.exec_ids) - len(kept) :]


def build(kind: str, action: str, qty: int, last: float, a: int, c: int, tif: str, oid: int):
    lmt = round(last + a / 100, 2)
    aux = round(last + c / 100, 2)
    extra: dict[str, object] = {"tif": "DAY" if kind in ("MOC", "LOC") else tif}
    if kind in ("LMT", "STP LMT", "LOC"):
        extra["lmtPrice"] = max(lmt, 0.01)
    if kind in ("STP", "STP LMT", "MIT"):
        extra["auxPrice"] = max(aux, 0.01)
    if kind == "TRAIL":
        extra["auxPrice"] = max(abs(c) / 100, 0.01)
    return order(oid, action, qty, kind, **extra)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(steps=steps, participation=st.sampled_from([None, 0.1, 0.5]))
def test_random_sequences_keep_the_books_straight(steps: list, participation) -> None:
    b = broker(cash=CASH, participation=participation, slippage_ticks=1)
    check = Checker(b)
    now = OPEN
    ids: list[int] = []
    terms: dict[int, tuple[str, str, float]] = {}
    for step in steps:
        now += timedelta(minutes=4)  # 80 steps: most of a session
        if step[0] == "tick":
            check.last = max(round(check.last + step[1] / 100, 2), 1.0)
            t = SimTick(now, AAPL, check.last, step[2], check.last - 0.01, check.last + 0.01, 1, 1)
            for oid, tm in terms.items():
                check.arm(oid, tm)
            check.events(b.on_tick(t))
        elif step[0] == "place":
            _, kind, action, qty, a, c, tif, group, oca_type, _ = step
            oid = len(ids) + 1
            o = build(kind, action, qty, check.last, a, c, tif, oid)
            if group:
                prior = check.oca.setdefault(group, (oca_type, qty, action))
                o.ocaGroup, o.ocaType, o.totalQuantity = group, prior[0], prior[1]
            ids.append(oid)
            if kind in ("STP", "STP LMT", "MIT"):
                terms[oid] = (kind, action, o.auxPrice)
                check.armed[oid] = False
            check.events(b.place_order(ACCT, 1, contract(), o, now))
        elif step[0] == "modify" and ids:
            oid = ids[step[1] % len(ids)]
            snap = [s for s in b.open_orders(ACCT) if s.order.orderId == oid]
            if snap:
                o = snap[0].order
                if is_set(o.lmtPrice):
                    o.lmtPrice = max(round(check.last + step[2] / 100, 2), 0.01)
                if o.orderType in ("STP", "STP LMT", "MIT"):
                    o.auxPrice = max(round(check.last - step[2] / 100, 2), 0.01)
                if not o.ocaGroup:
                    o.totalQuantity = step[3]
                events = b.place_order(ACCT, 1, contract(), o, now)
                if oid in terms and events:
                    terms[oid] = (o.orderType, o.action, o.auxPrice)
                    check.armed[oid] = snap[0].order.auxPrice == o.auxPrice and check.armed[oid]
                check.events(events)
        elif step[0] == "cancel" and ids:
            check.events(b.cancel_order(ACCT, 1, ids[step[1] % len(ids)], now))
        check.account()
    check.events(b.on_time(now + timedelta(days=1)))
    check.account()
    for snap in b.completed_orders(ACCT):
        assert snap.filled <= snap.order.totalQuantity + 1e-9
        if snap.status == "Filled":
            assert snap.filled == pytest.approx(snap.order.totalQuantity)
