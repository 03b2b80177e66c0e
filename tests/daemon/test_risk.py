"""RiskManager.check: each check with hand-computed figures, kill switch, journalling, speed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ib_insync import Contract
from support.times import NY

from bot.config.risk import RiskConfig, RiskLimits
from bot.journal.store import Journal
from bot.model.events import (
    CancelOrder,
    KillSwitch,
    ModifyOrder,
    OrderSpec,
    OrderType,
    PlaceBracket,
    PlaceOrder,
    Rejection,
    Side,
    TargetPosition,
    WorkingOrder,
)
from bot.risk.day_limits import Flatten, IbPnl
from bot.risk.manager import RiskManager
from bot.risk.states import Level, State
from bot.strategy.context import SymbolInfo, next_trading_day, parse_sessions

NOW = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
BUY, SELL = Side.BUY, Side.SELL


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "j.sqlite")
    yield j
    j.close()


def risk(journal: Journal, *, flatten: Flatten | None = None, ib_pnl: IbPnl | None = None,
         **cfg: object) -> RiskManager:  # fmt: skip
    """Limits of strategy s1 (its own position: the ``position`` argument of a check)."""
    return RiskManager(RiskConfig(max_orders_per_minute=None), journal,
                       strategies={"s1": RiskLimits(**cfg)},  # type: ignore[arg-type]
                       flatten=flatten, ib_pnl=ib_pnl)  # fmt: skip


def buy(qty: float, symbol: str = "AAPL", **kw: object) -> PlaceOrder:
    return PlaceOrder(symbol, OrderSpec(BUY, qty, **kw))  # type: ignore[arg-type]


def sell(qty: float, symbol: str = "AAPL", **kw: object) -> PlaceOrder:
    return PlaceOrder(symbol, OrderSpec(SELL, qty, **kw))  # type: ignore[arg-type]


def reason(r: RiskManager, intent: object, position: float = 0, price: float = 100.0,
           now: datetime = NOW, **kw: object) -> str | None:  # fmt: skip
    rej = r.check("s1", intent, position=position, ref_price=price, now=now, **kw)  # type: ignore[arg-type]
    assert rej is None or isinstance(rej, Rejection)
    return rej.reason if rej else None


def test_max_position_after_the_order(journal: Journal) -> None:
    r = risk(journal, max_position=100)
    assert reason(r, buy(20), position=80) is None  # 100: at the limit is fine
    assert reason(r, buy(40), position=80) == (
        "max_position 100 exceeded for AAPL: position 80 + order 40"
    )
    assert reason(r, sell(40), position=-80) == (
        "max_position 100 exceeded for AAPL: position -80 + order -40"
    )
    assert reason(r, sell(180), position=80) is None  # ends at -100
    assert reason(r, sell(181), position=80) is not None  # ends at -101


def test_max_position_never_blocks_a_reducing_order(journal: Journal) -> None:
    r = risk(journal, max_position=100)
    assert reason(r, sell(50), position=150) is None  # over the limit (limit lowered): exit ok
    assert reason(r, sell(250), position=150) is None  # crosses to -100: at the limit
    assert reason(r, sell(251), position=150) == (
        "max_position 100 exceeded for AAPL: position 150 + order -251"
    )


def test_max_position_counts_same_side_working_orders(journal: Journal) -> None:
    r = risk(journal, max_position=100)
    spec = OrderSpec(BUY, 30, OrderType.LIMIT, limit_price=99)
    stop = OrderSpec(SELL, 50, OrderType.STOP, stop_price=90)
    working = {
        "lmt": WorkingOrder("AAPL", "lmt", 7, spec, 10, "Submitted"),  # 20 remaining
        "stop": WorkingOrder("AAPL", "stop", 8, stop, 0, "Submitted"),  # exits don't count
    }
    assert reason(r, buy(30), position=50, working=working) is None  # 50+20+30 = 100
    assert reason(r, buy(31), position=50, working=working) == (
        "max_position 100 exceeded for AAPL: position 50 + working 20 + order 31"
    )


def test_max_order_notional_uses_limit_then_stop_then_reference(journal: Journal) -> None:
    r = risk(journal, max_order_notional=10_000)
    assert reason(r, buy(100), price=100.0) is None  # 10,000
    assert reason(r, buy(101), price=100.0) == (
        "max_order_notional 10000 exceeded for AAPL: order 101 x 100.00 = 10100.00"
    )
    lmt = buy(200, order_type=OrderType.LIMIT, limit_price=49.0)  # 9,800 at the limit price
    assert reason(r, lmt, price=100.0) is None
    stp = buy(200, order_type=OrderType.STOP, stop_price=51.0)  # 10,200 at the stop
    assert reason(r, stp, price=10.0) == (
        "max_order_notional 10000 exceeded for AAPL: order 200 x 51.00 = 10200.00"
    )


def test_max_order_notional_needs_a_price(journal: Journal) -> None:
    r = risk(journal, max_order_notional=10_000)
    assert reason(r, buy(1), price=float("nan")) == (
        "max_order_notional: no reference price for AAPL yet to value the order"
    )
    assert (
        reason(r, buy(1, order_type=OrderType.LIMIT, limit_price=5.0), price=float("nan")) is None
    )


def test_allowed_order_types(journal: Journal) -> None:
    r = risk(journal, allowed_order_types=("MKT", "LMT"))
    assert reason(r, buy(1, order_type=OrderType.LIMIT, limit_price=1.0)) is None
    assert reason(r, buy(1, order_type=OrderType.STOP, stop_price=1.0)) == (
        "order type STP not allowed (s1's risk.allowed_order_types: LMT, MKT)"
    )


def test_incomplete_orders_are_refused(journal: Journal) -> None:
    r = risk(journal)
    assert reason(r, buy(0)) == "MKT order for AAPL: quantity must be positive, got 0"
    assert reason(r, buy(1, order_type=OrderType.STOP_LIMIT, limit_price=1.0)) == (
        "STP LMT order for AAPL needs a positive stop_price, got None"
    )
    trail = buy(1, order_type=OrderType.TRAIL, trail_amount=1.0, trail_percent=1.0)
    assert (
        reason(r, trail)
        == "TRAIL order for AAPL needs exactly one of trail_amount or trail_percent"
    )


def test_max_orders_per_minute_is_a_sliding_window_per_strategy(journal: Journal) -> None:
    r = risk(journal, max_orders_per_minute=2)
    t = NOW
    assert reason(r, buy(1), now=t) is None
    assert reason(r, buy(1), now=t + timedelta(seconds=30)) is None
    assert reason(r, buy(1), now=t + timedelta(seconds=59)) == (
        "max_orders_per_minute 2 reached for s1: 2 in the last minute"
    )
    assert reason(r, CancelOrder("AAPL", "x"), now=t + timedelta(seconds=59)) is None
    assert r.check("s2", buy(1), position=0, ref_price=1, now=t + timedelta(seconds=59)) is None
    assert reason(r, buy(1), now=t + timedelta(seconds=60)) is None  # the first one aged out
    # A target already reached sends nothing and does not count.
    r2 = risk(journal, max_orders_per_minute=1)
    assert reason(r2, TargetPosition("AAPL", 5), position=5) is None
    assert reason(r2, TargetPosition("AAPL", 6), position=5) is None
    assert reason(r2, buy(1)) is not None


def test_target_position_is_checked_as_the_difference(journal: Journal) -> None:
    r = risk(journal, max_position=100, max_order_notional=5_000)
    assert reason(r, TargetPosition("AAPL", 100), position=60, price=100.0) is None  # 40 x 100
    # Over max_position, a target is shrunk to it (journalled), not refused.
    shrunk = r.check("s1", TargetPosition("AAPL", 120), position=60, ref_price=50.0, now=NOW)
    assert shrunk == TargetPosition("AAPL", 100, "shrunk to max_position (100)")
    assert journal.query("SELECT kind, reason FROM risk_events WHERE kind = 'shrink'") == [
        ("shrink", "TargetPosition AAPL 120 -> 100: max_position")
    ]
    assert reason(r, TargetPosition("AAPL", 0), position=60, price=100.0) == (
        "max_order_notional 5000 exceeded for AAPL: order 60 x 100.00 = 6000.00"
    )


def test_bracket_checks_the_entry_and_its_legs(journal: Journal) -> None:
    r = risk(journal, max_position=100)
    ok = PlaceBracket("AAPL", OrderSpec(BUY, 100), stop_loss=OrderSpec(SELL, 100, OrderType.STOP,
                      stop_price=90))  # fmt: skip
    assert reason(r, ok) is None
    big = PlaceBracket("AAPL", OrderSpec(BUY, 101))
    assert reason(r, big) == "max_position 100 exceeded for AAPL: position 0 + order 101"
    odd = PlaceBracket("AAPL", OrderSpec(BUY, 10), OrderSpec(SELL, 5, OrderType.LIMIT, 110.0))
    assert reason(r, odd) == (
        "bracket bracket on AAPL: take_profit quantity 5 differs from the entry's 10"
    )


def test_modify_checks_only_added_quantity(journal: Journal) -> None:
    r = risk(journal, max_position=100)
    spec = OrderSpec(BUY, 60, OrderType.LIMIT, limit_price=99)
    working = {"lmt": WorkingOrder("AAPL", "lmt", 7, spec, 0, "Submitted")}
    assert (
        reason(r, ModifyOrder("AAPL", "lmt", limit_price=98), position=40, working=working) is None
    )
    assert reason(r, ModifyOrder("AAPL", "lmt", quantity=70), position=40, working=working) == (
        "max_position 100 exceeded for AAPL: position 40 + working 60 + order 10"
    )
    assert reason(r, ModifyOrder("AAPL", "x", quantity=1), working=working) == (
        "no working order tagged 'x' on AAPL to modify"
    )


def test_kill_switch_halts_entries_but_lets_exits_and_cancels_through(journal: Journal) -> None:
    r = risk(journal)
    r.kill("daily loss -500", strategy_id="s1", now=NOW)
    assert r.state("s1", NOW).level is Level.HALTED and r.state("s2", NOW).level is Level.ACTIVE
    halted = "s1 is HALTED (daily loss -500): only cancels are accepted"
    assert reason(r, buy(10)) == halted
    assert reason(r, sell(10), position=10) == halted  # the kill's own flatten does the exits
    assert reason(r, CancelOrder("AAPL", "x")) is None
    assert r.check("s2", buy(10), position=0, ref_price=1, now=NOW) is None
    r.pause_entries("connectivity", "entries paused: disconnected", now=NOW)
    assert r.check("s2", buy(10), position=0, ref_price=1, now=NOW) is not None
    assert r.check("s2", sell(10), position=10, ref_price=1, now=NOW) is None  # REDUCING
    r.clear("connectivity", now=NOW)
    r.kill("operator", strategy_id=None, now=NOW)
    assert r.state("s2", NOW) == State(Level.HALTED, "operator")
    r.resume(strategy_id=None, now=NOW)
    r.resume(strategy_id="s1", now=NOW)
    assert reason(r, buy(10)) is None


def test_kill_switch_intent_arms_the_switch_for_its_scope(journal: Journal) -> None:
    r = risk(journal)
    assert reason(r, KillSwitch("cut-off time")) is None
    assert r.state("s1", NOW).level is Level.HALTED and r.state("s2", NOW).level is Level.ACTIVE
    assert r.check("s2", KillSwitch("panic", "all"), position=0, ref_price=1, now=NOW) is None
    assert r.state("s2", NOW).level is Level.HALTED
    rows = journal.query("SELECT strategy_id, kind, reason FROM risk_events ORDER BY id")
    assert rows == [("s1", "hold", "cut-off time"), (None, "hold", "panic")]


# A week of IB liquid hours around a DST change: US clocks go forward on Sunday 2024-03-10, so
# 09:30 New York is 14:30 UTC in the week of 03-04 and 13:30 UTC from Monday 03-11 on.
STK_HOURS = (
    "20240307:0930-20240307:1600;20240308:0930-20240308:1600;20240309:CLOSED;"
    "20240310:CLOSED;20240311:0930-20240311:1600"
)
CASH_HOURS = "20240307:1700-20240308:1700;20240309:CLOSED;20240310:1700-20240311:1700"
AAPL = SymbolInfo("AAPL", Contract(conId=1), 0.01, NY, parse_sessions(STK_HOURS, NY))
EURUSD = SymbolInfo("EUR.USD", Contract(conId=2), 5e-5, NY, parse_sessions(CASH_HOURS, NY))
FRI_CUTOFF = datetime(2024, 3, 8, 20, 45, tzinfo=UTC)  # Friday 15:45 EST
MON_OPEN = datetime(2024, 3, 11, 13, 30, tzinfo=UTC)  # Monday 09:30 EDT


def utc(month: int, day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


def test_next_trading_day_is_the_first_session_of_a_later_exchange_date() -> None:
    assert next_trading_day([AAPL], FRI_CUTOFF) == MON_OPEN  # over the weekend and DST
    # Before Friday's open Friday is still "today": the next day is Monday, not 09:30 Friday.
    assert next_trading_day([AAPL], utc(3, 8, 14)) == MON_OPEN
    assert next_trading_day([AAPL], utc(3, 7, 17)) == utc(3, 8, 14, 30)  # Thursday -> Friday
    # Past the sessions IB sent: the next exchange midnight (Tuesday 00:00 EDT).
    assert next_trading_day([AAPL], utc(3, 11, 19, 45)) == utc(3, 12, 4)
    # FX: Friday's day ends at 17:00 Friday; Monday's opens Sunday 17:00 EDT (21:00 UTC),
    # and a kill in that evening session already belongs to Monday: next is Monday 17:00.
    assert next_trading_day([EURUSD], FRI_CUTOFF) == utc(3, 10, 21)
    assert next_trading_day([EURUSD], utc(3, 8, 22)) == utc(3, 10, 21)  # closed for the day
    # Sunday evening is Monday's day; with no later session known: Tuesday 00:00 EDT.
    assert next_trading_day([EURUSD], utc(3, 10, 22)) == utc(3, 12, 4)
    assert next_trading_day([AAPL, EURUSD], FRI_CUTOFF) == utc(3, 10, 21)  # the earliest
    assert next_trading_day([], FRI_CUTOFF) is None


def test_a_strategy_kill_lasts_until_its_next_trading_day(journal: Journal) -> None:
    r = RiskManager(
        RiskConfig(max_orders_per_minute=None),
        journal,
        next_day=lambda sid, now: next_trading_day([AAPL], now),
    )
    halted = "s1 is HALTED (cut-off): only cancels are accepted"
    assert reason(r, KillSwitch("cut-off"), now=FRI_CUTOFF) is None
    assert r.state("s1", FRI_CUTOFF).level is Level.HALTED
    assert reason(r, buy(10), now=FRI_CUTOFF + timedelta(minutes=5)) == halted
    assert reason(r, buy(10), now=MON_OPEN - timedelta(seconds=1)) == halted
    assert reason(r, buy(10), now=MON_OPEN) is None  # lifted by Monday's first event
    assert r.state("s1", MON_OPEN).level is Level.ACTIVE
    # The engine's path (risk.kill) lifts the same way; the operator's kill does not lift.
    r.kill("daily loss", strategy_id="s1", now=MON_OPEN + timedelta(hours=1))
    r.kill("operator", strategy_id=None, now=MON_OPEN + timedelta(hours=1))
    later = utc(3, 20, 15)
    assert reason(r, buy(10), now=later) == "s1 is HALTED (operator): only cancels are accepted"
    r.resume(strategy_id=None, now=later)
    assert reason(r, buy(10), now=later) is None
    rows = journal.query("SELECT time, strategy_id, kind, reason FROM risk_events ORDER BY id")
    lifted = "its time is up (a new trading day)"
    assert [row for row in rows if row[2] != "rejection"] == [
        (FRI_CUTOFF.isoformat(), "s1", "hold", "cut-off"),
        (MON_OPEN.isoformat(), "s1", "release", lifted),
        ((MON_OPEN + timedelta(hours=1)).isoformat(), "s1", "hold", "daily loss"),
        ((MON_OPEN + timedelta(hours=1)).isoformat(), None, "hold", "operator"),
        (later.isoformat(), "s1", "release", lifted),
        (later.isoformat(), None, "release", "operator resume"),
    ]


def test_rejections_are_journalled_with_the_intent(journal: Journal) -> None:
    r = risk(journal, max_position=10)
    rej = r.check("s1", buy(11), position=0, ref_price=1.0, now=NOW)
    assert isinstance(rej, Rejection) and rej.time == NOW and rej.intent == buy(11)
    ((time_, sid, kind, sym, why, intent),) = journal.query(
        "SELECT time, strategy_id, kind, symbol, reason, intent FROM risk_events"
    )
    assert (time_, sid, kind, sym) == (NOW.isoformat(), "s1", "rejection", "AAPL")
    assert why == "max_position 10 exceeded for AAPL: position 0 + order 11"
    assert '"type": "PlaceOrder"' in intent and '"quantity": 11' in intent


def test_an_unprotected_position_follows_the_policy(journal: Journal) -> None:
    """``unprotected``: the strategy's own key, else the account's (flatten by default)."""
    flattened: list[tuple[str | None, str | None]] = []
    for policy in (None, "reduce", "alert"):
        r = risk(journal, unprotected=policy,
                 flatten=lambda sid, symbol, why: flattened.append((sid, symbol)))
        r.on_unprotected("s1", "AAPL", "ibbot:s1:AAPL:sl:3", "Order rejected", 10, NOW)
        if policy is None:
            assert flattened == [("s1", "AAPL")]
        elif policy == "reduce":
            assert r.paused("unprotected", strategy_id="s1", symbol="AAPL")
            assert reason(r, buy(1), position=10) is not None  # no adding on AAPL
            assert reason(r, buy(1, "MSFT")) is None  # other symbols trade
            assert reason(r, sell(10), position=10) is None  # the exit goes
        else:
            assert flattened == [("s1", "AAPL")] and not r.states
    rows = journal.query("SELECT reason FROM risk_events WHERE kind = 'unprotected'")
    assert [why.rsplit("; ", 1)[1] for (why,) in rows] == [
        "flattening it", "entries on it paused", "left as it is (unprotected: alert)"]
    assert rows[0][0].startswith("protective stop ibbot:s1:AAPL:sl:3 rejected by the broker "
                                 "(Order rejected): AAPL +10 of s1 unprotected")  # fmt: skip


def test_pnl_source_ib_reads_ibs_daily_pnl_and_ticks_check_the_limits(journal: Journal) -> None:
    ib: dict[str | None, float | None] = {"s1": -100.0}
    r = risk(journal, daily_loss_limit=500, pnl_source="ib", ib_pnl=lambda sid: ib.get(sid))
    r.portfolio.on_fill("s1", "AAPL", 10, 100.0, NOW)
    r.portfolio.add_commission("s1", 600.0)  # the bot's own P&L: -600, over the limit
    r.on_tick("AAPL", NOW)
    assert r.state("s1", NOW).level is Level.ACTIVE  # IB's -100 is what counts
    ib["s1"] = -500.0
    r.on_tick("AAPL", NOW)  # a tick, between bars
    assert r.state("s1", NOW).reason == "daily loss -500.00 reached daily_loss_limit 500"
    fallback = risk(journal, daily_loss_limit=500, pnl_source="ib")  # IB has no figure
    fallback.portfolio.on_fill("s1", "AAPL", 10, 100.0, NOW)
    fallback.portfolio.add_commission("s1", 600.0)
    fallback.on_tick("AAPL", NOW)
    assert fallback.state("s1", NOW).reason == "daily loss -600.00 reached daily_loss_limit 500"
