"""OrderExecutor against FakeIB: order building, brackets, modify, target, fills, dry run, guard."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Iterator
from pathlib import Path

import pytest
from ib_insync import Contract, ContractDetails, Order, OrderStatus, Stock, Trade
from ib_insync.util import UNSET_DOUBLE
from support.fake_ib import FakeIB
from support.times import T0
from support.waiting import wait_until

from bot.config.executor import ExecutorConfig
from bot.journal.store import Journal, dry_run_path
from bot.model.events import (
    CancelOrder,
    FillEvent,
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
from bot.orders.executor import OrderExecutor
from bot.orders.guard import GuardError
from bot.orders.message_rate import PacingGovernor
from bot.portfolio.positions import PositionMismatchError
from bot.venues.dry_run import DryRunBroker
from bot.venues.ib import IbBroker

AAPL = Stock("AAPL", "SMART", "USD", conId=265598, primaryExchange="NASDAQ")
MSFT = Stock("MSFT", "SMART", "USD", conId=272093, primaryExchange="NASDAQ")
BUY, SELL = Side.BUY, Side.SELL


class Harness:
    def __init__(self, tmp: Path, *, dry_run: bool = False, account: str = "DU1234567",
                 cfg: ExecutorConfig | None = None, ib: FakeIB | None = None,
                 pacing: PacingGovernor | None = None) -> None:  # fmt: skip
        self.ib = ib or FakeIB(account=account)
        path = tmp / "journal.sqlite"
        self.journal = Journal(dry_run_path(path) if dry_run else path)
        # A dry run trades on the simulated broker fed by the prices it is given; self.ib
        # stays, to show that nothing reaches it.
        broker = (DryRunBroker(account, lambda: T0) if dry_run  # as bot/live/daemon.py builds it
                  else IbBroker(self.ib, self.journal.reads.max_order_id()))  # type: ignore[arg-type]
        self.ex = OrderExecutor(
            broker,
            cfg or ExecutorConfig(),
            self.journal,
            account=account,
            dry_run=dry_run,
            now=lambda: T0,
            pacing=pacing or PacingGovernor(rate=1000, burst=100),
        )
        self.ex.register_contract("AAPL", AAPL, 0.01, details(AAPL))
        self.ex.register_contract("MSFT", MSFT, 0.01, details(MSFT))
        self.fills: list[tuple[str, FillEvent]] = []
        self.views: list[tuple[str, WorkingOrder]] = []
        self.rejections: list[Rejection] = []
        self.ex.fill_event += lambda sid, f: self.fills.append((sid, f))
        self.ex.order_event += lambda sid, w: self.views.append((sid, w))
        self.ex.rejection_event += self.rejections.append

    def submit(self, intent: object, sid: str = "s1", ref_price: float = 100.0) -> None:
        self.ex.submit(sid, intent, ref_price=ref_price)  # type: ignore[arg-type]

    def last_trade(self) -> Trade:
        return self.ib.trade(self.ib.placed()[-1].orderId)


def details(contract: Contract) -> ContractDetails:
    """IB's details of a NASDAQ stock in the week of T0 (Monday 2024-03-04)."""
    days = [f"202403{d:02d}" for d in range(4, 9)]
    return ContractDetails(
        contract=contract, minTick=0.01, timeZoneId="US/Eastern", longName=contract.symbol,
        tradingHours=";".join(f"{d}:0400-{d}:2000" for d in days) + ";20240309:CLOSED",
        liquidHours=";".join(f"{d}:0930-{d}:1600" for d in days) + ";20240309:CLOSED",
    )  # fmt: skip


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.journal.close()


def place(tag: str = "entry", symbol: str = "AAPL", **spec: object) -> PlaceOrder:
    spec.setdefault("action", BUY)
    spec.setdefault("quantity", 10)
    return PlaceOrder(symbol, OrderSpec(**spec), tag)  # type: ignore[arg-type]


# ---- order building per type -------------------------------------------------------------


def test_market_order_fields_and_order_ref(h: Harness) -> None:
    h.submit(place(quantity=25))
    (o,) = h.ib.placed()
    assert (o.action, o.totalQuantity, o.orderType) == ("BUY", 25, "MKT")
    assert (o.tif, o.outsideRth, o.account) == ("DAY", False, "DU1234567")
    assert o.orderRef == "ibbot:s1:AAPL:entry:1"
    assert o.orderId == 101 and o.transmit
    assert h.ex.working_orders("s1", "AAPL")["entry"].order_id == 101


@pytest.mark.parametrize(
    ("spec", "expect"),
    [
        (dict(order_type=OrderType.LIMIT, limit_price=150.1234), dict(lmtPrice=150.12)),
        (dict(order_type=OrderType.STOP, stop_price=99.996), dict(auxPrice=100.0)),
        (
            dict(order_type=OrderType.STOP_LIMIT, stop_price=101.004, limit_price=101.526),
            dict(auxPrice=101.0, lmtPrice=101.53),
        ),
        (
            dict(order_type=OrderType.TRAIL, trail_amount=1.234, stop_price=95.111),
            dict(auxPrice=1.23, trailStopPrice=95.11, trailingPercent=UNSET_DOUBLE),
        ),
        (
            dict(order_type=OrderType.TRAIL, trail_percent=2.5),
            dict(trailingPercent=2.5, auxPrice=UNSET_DOUBLE, trailStopPrice=UNSET_DOUBLE),
        ),
        (dict(order_type=OrderType.MARKET_ON_CLOSE, tif="GTC"), dict(tif="DAY")),
        (dict(order_type=OrderType.LIMIT_ON_CLOSE, limit_price=10.005), dict(lmtPrice=10.01)),
        (dict(order_type=OrderType.MARKET_IF_TOUCHED, stop_price=98.5), dict(auxPrice=98.5)),
    ],
)
def test_order_types_map_to_ib_fields(h: Harness, spec: dict, expect: dict) -> None:
    h.submit(place(**spec))
    (o,) = h.ib.placed()
    assert o.orderType == spec["order_type"].value
    for field, value in expect.items():
        assert getattr(o, field) == value, field


def test_tif_and_outside_rth_come_from_config_unless_the_spec_says(tmp_path: Path) -> None:
    h = Harness(tmp_path, cfg=ExecutorConfig(tif="GTC", outside_rth=True))
    h.submit(place("a", order_type=OrderType.LIMIT, limit_price=10))
    h.submit(place("b", order_type=OrderType.LIMIT, limit_price=10, tif="IOC", outside_rth=False))
    a, b = h.ib.placed()
    assert (a.tif, a.outsideRth) == ("GTC", True)
    assert (b.tif, b.outsideRth) == ("IOC", False)


def test_incomplete_spec_and_unknown_symbol_are_refused_before_sending(h: Harness) -> None:
    h.submit(place(order_type=OrderType.LIMIT))
    h.submit(place(symbol="TSLA"))
    assert h.ib.client.sent == []
    assert [r.reason for r in h.rejections] == [
        "LMT order for AAPL needs a positive limit_price, got None",
        "TSLA has no qualified contract (not in the universe?)",
    ]


def test_duplicate_working_tag_is_refused(h: Harness) -> None:
    h.submit(place(order_type=OrderType.LIMIT, limit_price=90))
    h.submit(place(order_type=OrderType.LIMIT, limit_price=91))
    assert len(h.ib.placed()) == 1
    assert "already working on AAPL: use ModifyOrder" in h.rejections[0].reason


def test_cancel_then_replace_with_the_same_tag(h: Harness) -> None:
    h.submit(place("stop", action=SELL, order_type=OrderType.STOP, stop_price=90))
    old = h.last_trade()
    h.submit(CancelOrder("AAPL", "stop"))
    h.submit(place("stop", action=SELL, order_type=OrderType.STOP, stop_price=92))
    assert h.rejections == []
    assert h.ex.working_orders("s1", "AAPL")["stop"].spec.stop_price == 92
    h.ib.status(old, OrderStatus.Cancelled)  # the old one's end does not hide the new one
    assert h.ex.working_orders("s1", "AAPL")["stop"].order_id == h.last_trade().order.orderId


def test_sequence_numbers_count_per_strategy_and_symbol(h: Harness) -> None:
    h.submit(place("a", order_type=OrderType.LIMIT, limit_price=90))
    h.submit(place("b", order_type=OrderType.LIMIT, limit_price=90))
    h.submit(place("a", symbol="MSFT", order_type=OrderType.LIMIT, limit_price=90))
    h.submit(place("a", order_type=OrderType.LIMIT, limit_price=90), sid="s2")
    refs = [o.orderRef for o in h.ib.placed()]
    assert refs == [
        "ibbot:s1:AAPL:a:1",
        "ibbot:s1:AAPL:b:2",
        "ibbot:s1:MSFT:a:1",
        "ibbot:s2:AAPL:a:1",
    ]


# ---- brackets ------------------------------------------------------------------------------


def bracket(tp: bool = True, sl: bool = True) -> PlaceBracket:
    return PlaceBracket(
        "AAPL",
        OrderSpec(BUY, 50, OrderType.LIMIT, limit_price=100.004),
        OrderSpec(SELL, 50, OrderType.LIMIT, limit_price=105.0) if tp else None,
        OrderSpec(SELL, 50, OrderType.STOP, stop_price=97.5, tif="GTC") if sl else None,
    )


def test_bracket_legs_parent_oca_and_transmit_flags(h: Harness) -> None:
    h.submit(bracket())
    parent, tp, sl = h.ib.placed()
    assert (parent.orderType, parent.lmtPrice, parent.parentId) == ("LMT", 100.0, 0)
    assert (tp.action, tp.lmtPrice, sl.action, sl.auxPrice) == ("SELL", 105.0, "SELL", 97.5)
    assert tp.parentId == sl.parentId == parent.orderId
    assert tp.ocaGroup == sl.ocaGroup == "ibbot:s1:AAPL:bracket:1" and tp.ocaType == 3
    assert parent.ocaGroup == ""
    assert [o.transmit for o in (parent, tp, sl)] == [False, False, True]
    assert [o.orderRef.split(":")[3] for o in (parent, tp, sl)] == [
        "bracket", "bracket.tp", "bracket.sl"
    ]  # fmt: skip
    assert sl.tif == "GTC"
    assert set(h.ex.working_orders("s1", "AAPL")) == {"bracket", "bracket.tp", "bracket.sl"}


def test_bracket_with_stop_only_transmits_on_the_stop(h: Harness) -> None:
    h.submit(bracket(tp=False))
    parent, sl = h.ib.placed()
    assert [parent.transmit, sl.transmit] == [False, True]


def test_bracket_child_on_the_same_side_is_refused(h: Harness) -> None:
    bad = PlaceBracket("AAPL", OrderSpec(BUY, 10), OrderSpec(BUY, 10, OrderType.LIMIT, 110.0))
    h.submit(bad)
    assert h.ib.placed() == []
    assert h.rejections[0].reason == "bracket bracket on AAPL: take_profit must be SELL"


def test_bracket_entry_fill_then_take_profit_cancels_stop(h: Harness) -> None:
    h.submit(bracket())
    parent, tp, sl = (h.ib.trade(o.orderId) for o in h.ib.placed())
    h.ib.fill(parent, price=100.0)
    assert h.ex.position("s1", "AAPL") == 50
    h.ib.fill(tp, price=105.0)
    h.ib.status(sl, OrderStatus.Cancelled)  # IB's OCA cancel: not a rejection
    assert h.ex.position("s1", "AAPL") == 0
    assert h.ex.working_orders("s1", "AAPL") == {}
    assert h.rejections == []
    assert [f.tag for _, f in h.fills] == ["bracket", "bracket.tp"]


# ---- modify in place -----------------------------------------------------------------------


def test_modify_in_place_keeps_order_id_and_object(h: Harness) -> None:
    h.submit(place("stop", action=SELL, order_type=OrderType.STOP, stop_price=95.0))
    trade = h.last_trade()
    h.ib.ack(trade)
    h.submit(ModifyOrder("AAPL", "stop", stop_price=96.257))
    first, second = h.ib.placed()
    assert first.orderId == second.orderId == trade.order.orderId
    assert second.auxPrice == 96.26 and trade.order.auxPrice == 96.26
    assert trade.log[-1].message == "Modify"
    assert h.ex.working_orders("s1", "AAPL")["stop"].spec.stop_price == 96.257
    rows = h.journal.query("SELECT status FROM order_events ORDER BY id")
    assert ("Modify",) in rows


def test_modify_trailing_amount_and_quantity(h: Harness) -> None:
    h.submit(place("t", action=SELL, order_type=OrderType.TRAIL, trail_percent=1.0))
    h.submit(ModifyOrder("AAPL", "t", quantity=20, trail_amount=0.5))
    o = h.ib.placed()[-1]
    assert (o.totalQuantity, o.auxPrice, o.trailingPercent) == (20, 0.5, UNSET_DOUBLE)


def test_modify_bracket_child_transmits(h: Harness) -> None:
    h.submit(bracket())
    h.submit(ModifyOrder("AAPL", "bracket.tp", limit_price=106.0))
    tp_mod = h.ib.placed()[-1]
    assert tp_mod.orderRef.endswith("bracket.tp:1") and tp_mod.transmit is True


def test_modify_unknown_tag_or_below_filled_is_refused(h: Harness) -> None:
    h.submit(ModifyOrder("AAPL", "nope", stop_price=1.0))
    h.submit(place("lmt", order_type=OrderType.LIMIT, limit_price=99))
    h.ib.execute(h.last_trade(), 6, 99.0)
    h.submit(ModifyOrder("AAPL", "lmt", quantity=5))
    assert [r.reason for r in h.rejections] == [
        "no working order tagged 'nope' on AAPL",
        "cannot modify 'lmt' to 5: 6 filled",
    ]
    assert len(h.ib.placed()) == 1


# ---- cancel, rejections ----------------------------------------------------------------


def test_cancel_order_and_broker_rejection(h: Harness) -> None:
    h.submit(place("a", order_type=OrderType.LIMIT, limit_price=90))
    h.submit(CancelOrder("AAPL", "a"))
    trade = h.last_trade()
    assert h.ib.client.sent[-1] == ("cancelOrder", trade.order.orderId)
    h.ib.status(trade, OrderStatus.Cancelled)
    assert h.ex.working_orders("s1", "AAPL") == {}
    h.submit(place("b", order_type=OrderType.LIMIT, limit_price=90))
    h.ib.status(h.last_trade(), OrderStatus.Cancelled, error=201, message="Order rejected")
    assert len(h.rejections) == 1
    assert "IB rejected ibbot:s1:AAPL:b:2: Order rejected" in h.rejections[0].reason
    assert h.rejections[0].intent == place("b", order_type=OrderType.LIMIT, limit_price=90)


def test_cancel_all_skips_children_of_a_cancelled_parent(h: Harness) -> None:
    h.submit(bracket())
    h.submit(place("x", symbol="MSFT", order_type=OrderType.LIMIT, limit_price=9), sid="s2")
    h.ex.cancel_all("s1")
    cancels = [f for f in h.ib.client.sent if f[0] == "cancelOrder"]
    assert cancels == [("cancelOrder", h.ib.placed()[0].orderId)]
    h.ex.cancel_all()
    assert len([f for f in h.ib.client.sent if f[0] == "cancelOrder"]) == 2


# ---- target position, fills ----------------------------------------------------------------


def test_target_position_counts_in_flight_market_orders(h: Harness) -> None:
    h.submit(place("stop", action=SELL, quantity=5, order_type=OrderType.STOP, stop_price=90))
    h.submit(TargetPosition("AAPL", 100))
    o = h.ib.placed()[-1]
    assert (o.action, o.totalQuantity, o.orderType) == ("BUY", 100, "MKT")
    assert o.orderRef == "ibbot:s1:AAPL:target.2:2"
    h.submit(TargetPosition("AAPL", 100))  # in flight: nothing more
    trade = h.ib.trade(o.orderId)
    h.ib.fill(trade, 40, 100.0)
    h.submit(TargetPosition("AAPL", 100))  # 40 filled + 60 in flight
    assert len(h.ib.placed()) == 2
    h.ib.fill(trade, 60, 101.0)
    h.submit(TargetPosition("AAPL", -50))
    o = h.ib.placed()[-1]
    assert (o.action, o.totalQuantity) == ("SELL", 150)


def test_target_position_uses_the_default_limit_order_type(tmp_path: Path) -> None:
    """executor.order_type: LMT makes targets limit orders at the reference price; a resting
    target limit counts as in flight; a flatten stays a market order."""
    h = Harness(tmp_path, cfg=ExecutorConfig(order_type="LMT"))
    h.submit(TargetPosition("AAPL", 100), ref_price=101.234)
    o = h.ib.placed()[-1]
    assert (o.action, o.totalQuantity, o.orderType, o.lmtPrice) == ("BUY", 100, "LMT", 101.23)
    h.submit(TargetPosition("AAPL", 100), ref_price=102.0)  # the limit rests: nothing more
    assert len(h.ib.placed()) == 1
    h.ib.fill(h.ib.trade(o.orderId), 100, 101.23)
    h.ex.flatten("s1")
    o = h.ib.placed()[-1]
    assert (o.action, o.totalQuantity, o.orderType) == ("SELL", 100, "MKT")
    h.submit(TargetPosition("MSFT", 10), ref_price=math.nan)
    assert [r.reason for r in h.rejections] == ["no price for a LMT target order on MSFT"]
    assert len(h.ib.placed()) == 2


def test_filled_status_before_exec_details_keeps_the_order_in_flight(h: Harness) -> None:
    h.submit(TargetPosition("AAPL", 10))
    trade = h.last_trade()
    h.ib.status(trade, OrderStatus.Filled, filled=10)  # IB often says Filled before execDetails
    assert "target.1" in h.ex.working_orders("s1", "AAPL")
    h.submit(TargetPosition("AAPL", 10))
    assert len(h.ib.placed()) == 1  # not sent twice
    h.ib.execute(trade, 10, 100.0)
    assert h.ex.position("s1", "AAPL") == 10
    assert h.ex.working_orders("s1", "AAPL") == {}


def test_each_exec_id_is_routed_once_with_commission_later(h: Harness) -> None:
    h.submit(place(quantity=10))
    trade = h.last_trade()
    f = h.ib.execute(trade, 4, 100.5)
    h.ib.execute(trade, 4, 100.5, exec_id=f.execution.execId)  # a duplicate report
    assert len(h.fills) == 1
    sid, ev = h.fills[0]
    assert sid == "s1"
    assert (ev.side, ev.quantity, ev.price, ev.commission, ev.tag) == (BUY, 4, 100.5, 0.0, "entry")
    assert (ev.exec_id, ev.order_id, ev.time) == (f.execution.execId, trade.order.orderId, T0)
    h.ib.commission(trade, f, 1.25)
    h.ib.commission(trade, f, 1.25)
    assert h.ex.commission("s1") == 1.25
    assert h.journal.query("SELECT quantity, price, commission FROM fills") == [(4, 100.5, 1.25)]
    assert h.ex.position("s1", "AAPL") == 4
    assert h.ex.working_orders("s1", "AAPL")["entry"].filled == 4


def test_fills_go_to_the_owning_strategy_and_position(h: Harness) -> None:
    h.submit(place(quantity=10), sid="a")
    ta = h.last_trade()
    h.submit(place(action=SELL, quantity=3), sid="b")
    tb = h.last_trade()
    h.ib.fill(tb, price=100)
    h.ib.fill(ta, price=100)
    assert [(s, f.side) for s, f in h.fills] == [("b", SELL), ("a", BUY)]
    assert (h.ex.position("a", "AAPL"), h.ex.position("b", "AAPL")) == (10, -3)


def test_flatten_cancels_resting_orders_and_closes_positions(h: Harness) -> None:
    h.submit(place(quantity=30))
    h.ib.fill(h.last_trade(), price=100)
    h.submit(place("stop", action=SELL, quantity=30, order_type=OrderType.STOP, stop_price=90))
    stop = h.last_trade()
    h.ex.flatten("s1")
    assert h.ib.client.sent[-2] == ("cancelOrder", stop.order.orderId)
    o = h.ib.placed()[-1]
    assert (o.action, o.totalQuantity, o.orderType) == ("SELL", 30, "MKT")
    assert o.orderRef.startswith("ibbot:s1:AAPL:flatten.")
    h.ex.flatten("s1")  # the flatten order is in flight: nothing more
    assert h.ib.placed()[-1] is o


def test_kill_switch_intent_cancels_and_flattens_its_scope(h: Harness) -> None:
    h.submit(place(quantity=30), sid="a")
    h.ib.fill(h.last_trade(), price=100)
    h.submit(place(symbol="MSFT", quantity=5), sid="b")
    h.ib.fill(h.last_trade(), price=100)
    h.submit(KillSwitch("daily loss"), sid="a")
    assert [(o.action, o.totalQuantity) for o in h.ib.placed()[2:]] == [("SELL", 30)]
    h.submit(KillSwitch("operator", scope="all"), sid="a")
    assert [(o.action, o.totalQuantity) for o in h.ib.placed()[3:]] == [("SELL", 5)]
    assert ("reqGlobalCancel",) in h.ib.client.sent  # the account's kill: IB's global cancel


# ---- dry run, guard, pacing --------------------------------------------------------------


async def test_dry_run_sends_nothing_and_fills_market_orders_locally(tmp_path: Path) -> None:
    h = Harness(tmp_path, dry_run=True)
    h.submit(place(quantity=10), ref_price=123.45)
    h.submit(bracket())
    h.submit(ModifyOrder("AAPL", "bracket.sl", stop_price=97.0))
    h.submit(TargetPosition("MSFT", -7), ref_price=50.0)
    h.submit(CancelOrder("AAPL", "bracket"))
    await asyncio.sleep(0)
    # Market orders fill at the next price seen (the bracket was cancelled before it).
    h.ex.update_price("AAPL", 123.45)
    h.ex.update_price("MSFT", 50.0)
    h.ex.flatten()
    await asyncio.sleep(0)
    h.ex.update_price("AAPL", 100.0)
    h.ex.update_price("MSFT", 50.0)
    assert h.ib.client.sent == []  # not one message
    assert h.ib.trades() == []
    assert [(f.symbol, f.side, f.quantity, f.price) for _, f in h.fills] == [
        ("AAPL", BUY, 10, 123.45),
        ("MSFT", SELL, 7, 50.0),
        ("AAPL", SELL, 10, 100.0),
        ("MSFT", BUY, 7, 50.0),
    ]
    assert all(f.order_id < 0 for _, f in h.fills)
    assert h.ex.position("s1", "AAPL") == h.ex.position("s1", "MSFT") == 0
    h.journal.close()
    assert h.journal.path.name == "journal.dry.sqlite"
    assert not (tmp_path / "journal.sqlite").exists()
    j = Journal(h.journal.path)
    assert j.query("SELECT COUNT(*) FROM fills") == [(4,)]
    assert j.query("SELECT COUNT(*) FROM intents") == [(5,)]
    j.close()


async def test_dry_run_leaves_resting_orders_working(tmp_path: Path) -> None:
    h = Harness(tmp_path, dry_run=True)
    h.submit(place("l", order_type=OrderType.LIMIT, limit_price=90))
    await asyncio.sleep(0)  # the simulated broker's answer, on the next loop turn
    (w,) = h.ex.working_orders("s1", "AAPL").values()
    assert w.order_id == -1 and w.status == "Submitted"
    h.submit(CancelOrder("AAPL", "l"))
    await asyncio.sleep(0)
    assert h.ex.working_orders("s1", "AAPL") == {}


def test_a_dry_run_over_a_broker_that_sends_is_refused(tmp_path: Path) -> None:
    ib = FakeIB(account="DU1234567")
    with pytest.raises(TypeError, match="a dry run sends nothing"):
        OrderExecutor(IbBroker(ib), ExecutorConfig(), Journal(tmp_path / "j.sqlite"),  # type: ignore[arg-type]
                      account="DU1234567", dry_run=True, now=lambda: T0)  # fmt: skip
    assert ib.client.sent == []


def test_guard_refuses_a_non_paper_account(tmp_path: Path) -> None:
    with pytest.raises(GuardError) as e:
        Harness(tmp_path, account="U1234567")
    assert str(e.value) == (
        "refusing to trade account U1234567: it is not a paper account (DU/DF prefix). "
        "Set mode: live in the config AND pass --live to trade it."
    )
    ib = FakeIB(account="U1234567")
    journal = Journal(tmp_path / "j2.sqlite")
    for mode, live in (("live", False), ("paper", True)):
        with pytest.raises(GuardError):
            OrderExecutor(IbBroker(ib), ExecutorConfig(), journal, account="U1234567",  # type: ignore[arg-type]
                          dry_run=False, now=lambda: T0, mode=mode, live=live)  # fmt: skip
    OrderExecutor(IbBroker(ib), ExecutorConfig(), journal, account="U1234567",  # type: ignore[arg-type]
                  dry_run=False, now=lambda: T0, mode="live", live=True)  # fmt: skip
    Harness(tmp_path, account="U7654321", dry_run=True)  # sends nothing: allowed
    Harness(tmp_path, account="DF998877")
    assert ib.client.sent == []


async def test_pacing_delays_orders_in_order_never_drops(tmp_path: Path) -> None:
    clock = [0.0]
    h = Harness(tmp_path, pacing=PacingGovernor(rate=100, burst=3, clock=lambda: clock[0]))
    for i in range(5):
        h.submit(place(f"t{i}", order_type=OrderType.LIMIT, limit_price=90 + i))
    assert len(h.ib.placed()) == 3  # burst spent synchronously
    h.submit(CancelOrder("AAPL", "t4"))  # still queued: never sent at all
    assert h.ex.working_orders("s1", "AAPL")["t3"].status == "PendingSubmit"
    clock[0] = 1.0
    await wait_until(lambda: len(h.ib.placed()) >= 4, what="the paced order")
    assert [o.orderRef.split(":")[3] for o in h.ib.placed()] == ["t0", "t1", "t2", "t3"]
    assert "t4" not in h.ex.working_orders("s1", "AAPL")


def test_not_connected_is_a_rejection_not_a_crash(h: Harness) -> None:
    h.ib.connected = False
    h.submit(place())
    assert "not sent: Not connected" in h.rejections[0].reason
    assert h.ex.working_orders("s1", "AAPL") == {}


# ---- reconcile -----------------------------------------------------------------------------


async def test_reconcile_after_reconnect_rebinds_and_routes_missed_fills(h: Harness) -> None:
    h.submit(place("stop", action=SELL, quantity=10, order_type=OrderType.STOP, stop_price=90))
    h.submit(place("lmt", order_type=OrderType.LIMIT, limit_price=99))
    stop, lmt = (h.ib.trade(o.orderId) for o in h.ib.placed())
    h.ib.ack(stop)
    h.ib.reconnect()
    # While away: the limit filled (IB lists it as done, the execution comes by request).
    away = h.ib.execute(h.ib.trade(lmt.order.orderId), 10, 99.0, live=False)
    h.ib.trade(lmt.order.orderId).orderStatus.status = OrderStatus.Filled
    await h.ex.reconcile()
    assert [f.exec_id for _, f in h.fills] == [away.execution.execId]
    assert h.ex.position("s1", "AAPL") == 10
    assert list(h.ex.working_orders("s1", "AAPL")) == ["stop"]
    # The adopted stop is the new Trade: modify goes through it, live fills still route.
    h.submit(ModifyOrder("AAPL", "stop", stop_price=91))
    new_stop = h.ib.trade(stop.order.orderId)
    assert h.ib.placed()[-1].auxPrice == 91 and new_stop.log[-1].message == "Modify"
    h.ib.fill(new_stop, price=91)
    assert h.ex.position("s1", "AAPL") == 0
    await h.ex.reconcile()  # again: nothing routed twice
    assert len(h.fills) == 2


async def test_restart_adopts_open_orders_and_restores_positions(tmp_path: Path) -> None:
    first = Harness(tmp_path)
    first.submit(place(quantity=20))
    first.ib.fill(first.last_trade(), price=100)
    first.submit(place("stop", action=SELL, quantity=20, order_type=OrderType.STOP, stop_price=95))
    stop_id = first.ib.placed()[-1].orderId
    first.ib.ack(first.ib.trade(stop_id))
    first.journal.close()
    ib = first.ib
    ib.reconnect()
    # A foreign order on the same account is left alone.
    ib.placeOrder(AAPL, Order(action="BUY", totalQuantity=1, orderType="MKT", orderRef="manual"))
    stop_fill = ib.execute(ib.trade(stop_id), 5, 95.0, live=False)  # partial while down
    second = Harness(tmp_path, ib=ib)
    assert second.ex.position("s1", "AAPL") == 20  # from the journal
    await second.ex.reconcile()
    assert second.ex.position("s1", "AAPL") == 15
    assert [f.exec_id for _, f in second.fills] == [stop_fill.execution.execId]
    (w,) = second.ex.working_orders("s1", "AAPL").values()
    assert (w.tag, w.order_id, w.filled, w.spec.stop_price) == ("stop", stop_id, 5, 95.0)
    second.submit(place("next", order_type=OrderType.LIMIT, limit_price=90))
    assert ib.placed()[-1].orderRef == "ibbot:s1:AAPL:next:3"  # sequence continues
    second.journal.close()


async def test_reconcile_warns_on_position_mismatch(h: Harness) -> None:
    h.ib.set_position(AAPL, 100)
    await h.ex.reconcile()
    rows = h.journal.query("SELECT kind, message FROM events WHERE kind = 'position-mismatch'")
    assert rows == [("position-mismatch", "AAPL: strategies hold 0; IB reports 100")]


def _restarted_with(tmp_path: Path, ib: FakeIB) -> Harness:
    """A first run that bought 20 AAPL for s1 and 5 MSFT for s2; the next start on ``ib``."""
    first = Harness(tmp_path, ib=ib)
    first.submit(place(quantity=20))
    first.ib.fill(first.last_trade(), price=100)
    first.submit(place(symbol="MSFT", quantity=5), sid="s2")
    first.ib.fill(first.last_trade(), price=100)
    first.journal.close()
    ib.reconnect()
    return Harness(tmp_path, ib=ib)


MISMATCH = (
    "refusing to trade: the journal's positions disagree with account DU1234567 at IB\n"
    "  AAPL: strategies hold 20 (s1 20); IB reports 0\n"
    "Journal: {path}. Nothing was sent. Find out why (trades by hand, another program on this "
    "account, a restarted gateway, another journal file), then run again with "
    "--reset-positions to start the strategies flat on these symbols (journalled)."
)


async def test_restored_positions_must_agree_with_the_account(tmp_path: Path) -> None:
    ib = FakeIB()
    ib.set_position(MSFT, 5)  # agrees; AAPL (flat at IB) does not
    h = _restarted_with(tmp_path, ib)
    with pytest.raises(PositionMismatchError) as e:
        await h.ex.reconcile(verify={"AAPL", "MSFT"})
    assert str(e.value) == MISMATCH.format(path=h.journal.path)
    assert ib.placed() == [] and ib.client.sent == []
    assert h.journal.query("SELECT message FROM events WHERE kind = 'position-mismatch'") == [
        (str(e.value),)
    ]


async def test_a_symbol_the_bot_does_not_trade_is_only_logged(tmp_path: Path) -> None:
    ib = FakeIB()
    ib.set_position(MSFT, 5)
    ib.set_position(Stock("NVDA", "SMART", "USD", conId=4815747), 100)  # not registered
    h = _restarted_with(tmp_path, ib)
    h.ex.register_contract("NVDA", Stock("NVDA", "SMART", "USD", conId=4815747), 0.01)
    ib.set_position(AAPL, 20)
    await h.ex.reconcile(verify={"AAPL", "MSFT"})  # NVDA: traded by hand, not ours
    assert h.ex.positions() == {("s1", "AAPL"): 20, ("s2", "MSFT"): 5}
    assert h.journal.query("SELECT message FROM events WHERE kind = 'position-mismatch'") == []


async def test_reset_positions_starts_the_disagreeing_strategies_flat(tmp_path: Path) -> None:
    ib = FakeIB()
    ib.set_position(MSFT, 5)
    ib.set_position(AAPL, 3)  # say, 3 bought by hand; the strategy's 20 are gone
    h = _restarted_with(tmp_path, ib)
    await h.ex.reconcile(verify={"AAPL", "MSFT"}, reset=True)
    assert h.ex.positions() == {("s2", "MSFT"): 5}  # MSFT agreed: kept
    assert h.journal.query(
        "SELECT strategy_id, symbol, quantity, reason FROM position_adjustments ORDER BY id"
    ) == [
        ("s1", "AAPL", -20.0, "--reset-positions: AAPL: strategies hold 20 (s1 20); IB reports 3"),
        ("", "AAPL", 3.0, "--reset-positions: AAPL: strategies hold 20 (s1 20); IB reports 3"),
    ]
    assert h.journal.query("SELECT COUNT(*) FROM events WHERE kind = 'positions-reset'") == [(1,)]
    h.submit(place(quantity=2))  # trades on from flat
    h.ib.fill(h.last_trade(), price=100)
    h.journal.close()
    # The next start expects the 3 held outside the strategies: 2 + 3 = 5 agrees.
    ib.set_position(AAPL, 5)
    ib._positions = [p for p in ib._positions if p.position != 3]
    again = Harness(tmp_path, ib=ib)
    await again.ex.reconcile(verify={"AAPL", "MSFT"})
    assert again.ex.positions() == {("s1", "AAPL"): 2, ("s2", "MSFT"): 5}
    # Sold by hand since: refused again, naming the unowned part.
    ib._positions = [p for p in ib._positions if p.contract is not AAPL]
    again.journal.close()
    third = Harness(tmp_path, ib=ib)
    with pytest.raises(PositionMismatchError) as e:
        await third.ex.reconcile(verify={"AAPL"})
    assert str(e.value).splitlines()[1] == (
        "  AAPL: strategies hold 2 (s1 2), 3 more outside them (recorded at a reset); IB reports 0"
    )
    third.journal.close()


def test_contract_min_tick_is_used_for_rounding(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.ex.register_contract("EUR", Contract(conId=12087792, secType="CASH"), 0.00005)
    h.submit(place(symbol="EUR", order_type=OrderType.LIMIT, limit_price=1.083333))
    assert math.isclose(h.ib.placed()[-1].lmtPrice, 1.08335)
