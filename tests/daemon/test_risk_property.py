"""Property tests of the risk stage over a real portfolio and journal: for any sequence of
intents, prices and fills no limit is exceeded; a kill always ends flat and HALTED; reopening the
journal restores the same states, portfolio and today's P&L."""

from __future__ import annotations

import tempfile
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from support.times import NY, T0

from bot.config.risk import RiskConfig, RiskLimits
from bot.journal.store import Journal
from bot.model.events import (
    CancelOrder,
    OrderIntent,
    OrderSpec,
    OrderType,
    PlaceOrder,
    Rejection,
    Side,
    TargetPosition,
)
from bot.portfolio.book import Portfolio
from bot.risk.manager import RiskManager
from bot.risk.states import Level

SIDS = ("s1", "s2")
SYMBOLS = ("AAPL", "MSFT")
ACCOUNT = {"max_position": 40, "max_gross_exposure": 6000.0, "max_orders_per_minute": 12,
           "daily_loss_limit": 150.0, "price_collar_pct": 10}  # fmt: skip
OWN = {"max_position": 30, "max_order_quantity": 25, "max_order_notional": 2500.0,
       "max_orders_per_day": 40}  # fmt: skip


class Sim:
    """Risk + portfolio + journal; an approved order fills at once, whole, at the mark."""

    def __init__(self, path: Path, now: datetime) -> None:
        self.journal = Journal(path)
        self.journal.begin_run(now=now, account="DU1", mode="paper", dry_run=False)
        self.marks = {"AAPL": 100.0, "MSFT": 80.0}
        self.pf = Portfolio.restore(self.journal, NY, now, self.marks)
        self.risk = RiskManager(RiskConfig(**ACCOUNT), self.journal, portfolio=self.pf,
                                strategies={s: RiskLimits(**OWN) for s in SIDS},
                                flatten=self.flatten)  # fmt: skip
        self.risk.restore(now)
        self.now = now
        self.n = len(self.journal.query("SELECT 1 FROM fills"))
        self.sent: list[tuple[datetime, float, float]] = []  # (time, quantity, notional)

    def fill(self, sid: str, symbol: str, qty: float) -> None:
        price = self.marks[symbol]
        self.n += 1
        self.journal.record_fill(
            exec_id=f"x{self.n}", ref="r", strategy_id=sid, symbol=symbol, tag="t", order_id=1,
            side="BUY" if qty > 0 else "SELL", quantity=abs(qty), price=price, commission=1.0,
            time=self.now,
        )  # fmt: skip
        self.pf.on_fill(sid, symbol, qty, price, self.now)
        self.pf.add_commission(sid, 1.0, symbol)

    def flatten(self, sid: str | None, symbol: str | None, _why: str = "") -> None:
        for (s, sym), qty in list(self.pf.items()):
            if sid in (None, s) and symbol in (None, sym):
                self.risk.own_order(s, TargetPosition(sym, 0.0, "flatten"), self.now)
                self.fill(s, sym, -qty)

    def submit(self, sid: str, intent: OrderIntent) -> None:
        symbol = getattr(intent, "symbol", "AAPL")
        pos = self.pf.get(sid, symbol)
        d = self.risk.check(sid, intent, position=pos, ref_price=self.marks[symbol], now=self.now)
        if isinstance(d, Rejection):
            return
        intent = d or intent
        if isinstance(intent, PlaceOrder):
            qty = intent.order.action.sign * intent.order.quantity
        elif isinstance(intent, TargetPosition):
            qty = intent.quantity - pos
        else:
            return
        if abs(qty) > 1e-9:
            self.sent.append((self.now, abs(qty), abs(qty) * self.marks[symbol]))
            self.before = (self.pf.get(sid, symbol), self.pf.symbol_position(symbol))
            self.fill(sid, symbol, qty)
            self.check_caps(sid, symbol, self.before)

    def check_caps(self, sid: str, symbol: str, before: tuple[float, float]) -> None:
        own, net = self.pf.get(sid, symbol), self.pf.symbol_position(symbol)
        # A position over a cap only ever comes from a reducing order (never here: caps only
        # fall by orders), so the caps hold after every fill.
        assert abs(own) <= OWN["max_position"] + 1e-9 or abs(own) < abs(before[0])
        assert abs(net) <= ACCOUNT["max_position"] + 1e-9 or abs(net) < abs(before[1])
        gross, _ = self.pf.exposure()
        assert gross <= ACCOUNT["max_gross_exposure"] + 1e-6 or abs(net) < abs(before[1])

    def step(self, dt: float, symbol: str, price: float) -> None:
        self.now += timedelta(seconds=dt)
        self.marks[symbol] = price
        self.pf.roll(self.now)
        self.risk.on_bar(symbol, self.now)


intent_st = st.one_of(
    st.builds(lambda sym, side, q: PlaceOrder(sym, OrderSpec(side, q)),
              st.sampled_from(SYMBOLS), st.sampled_from(list(Side)), st.integers(1, 40)),
    st.builds(lambda sym, q, f: PlaceOrder(sym, OrderSpec(Side.BUY, q, OrderType.LIMIT,
                                                          limit_price=round(100 * f, 2))),
              st.sampled_from(SYMBOLS), st.integers(1, 10), st.floats(0.5, 1.5)),
    st.builds(TargetPosition, st.sampled_from(SYMBOLS), st.integers(-60, 60).map(float)),
    st.builds(CancelOrder, st.sampled_from(SYMBOLS), st.just("x")),
)  # fmt: skip
event_st = st.one_of(
    st.tuples(st.just("intent"), st.sampled_from(SIDS), intent_st),
    st.tuples(st.just("price"), st.sampled_from(SYMBOLS), st.floats(60.0, 140.0)),
)
SETTINGS = settings(max_examples=40, deadline=None,
                    suppress_health_check=[HealthCheck.function_scoped_fixture])  # fmt: skip


def play(sim: Sim, events: list[tuple[str, Any, Any]]) -> None:
    for kind, a, b in events:
        if kind == "intent":
            sim.submit(a, b)
        else:
            sim.step(7.0, a, b)


@SETTINGS
@given(st.lists(event_st, max_size=80))
def test_no_limit_is_ever_exceeded(events: list[tuple[str, Any, Any]]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        sim = Sim(Path(tmp) / "j.sqlite", T0)
        play(sim, events)
        for _, qty, notional in sim.sent:
            assert qty <= OWN["max_order_quantity"]
            assert notional <= OWN["max_order_notional"] + 1e-6
        times = [t for t, _, _ in sim.sent]
        for i, t in enumerate(times):  # never more than 12 orders within a minute
            assert sum(1 for u in times[: i + 1] if t - u < timedelta(minutes=1)) <= 12
        sim.journal.close()


@SETTINGS
@given(st.lists(event_st, max_size=60), st.sampled_from([None, *SIDS]))
def test_a_kill_always_ends_flat_and_halted(events: list[tuple[str, Any, Any]],
                                           scope: str | None) -> None:  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        sim = Sim(Path(tmp) / "j.sqlite", T0)
        play(sim, events)
        sim.risk.halt("test", strategy_id=scope, now=sim.now)
        sim.flatten(scope, None)
        held = [(s, q) for (s, _), q in sim.pf.items() if scope in (None, s)]
        assert held == []
        assert sim.risk.state(scope, sim.now).level is Level.HALTED
        for sid in SIDS if scope is None else (scope,):
            for symbol in SYMBOLS:
                for intent in (PlaceOrder(symbol, OrderSpec(Side.SELL, 1)),
                               TargetPosition(symbol, 5.0)):  # fmt: skip
                    d = sim.risk.check(sid, intent, position=0.0, ref_price=100.0, now=sim.now)
                    assert isinstance(d, Rejection) and "HALTED" in d.reason
        sim.journal.close()


@SETTINGS
@given(st.lists(event_st, max_size=60), st.booleans())
def test_reopening_the_journal_restores_states_portfolio_and_today(
    events: list[tuple[str, Any, Any]], kill: bool
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "j.sqlite"
        sim = Sim(path, T0)
        play(sim, events)
        if kill:
            sim.risk.halt("operator", strategy_id=None, now=sim.now)
        now, marks = sim.now, dict(sim.marks)
        states = {s: sim.risk.state(s, now) for s in (*SIDS, None)}
        figures = {s: (sim.pf.today(s), sim.pf.total(s)) for s in (*SIDS, None)}
        books = dict(sim.pf.items())
        sim.journal.close()
        again = Sim(path, now)
        again.marks.update(marks)
        assert {s: again.risk.state(s, now) for s in (*SIDS, None)} == states
        assert dict(again.pf.items()) == books
        for s, (today, total) in figures.items():
            assert abs(again.pf.today(s) - today) < 1e-6
            assert abs(again.pf.total(s) - total) < 1e-6
        again.journal.close()
