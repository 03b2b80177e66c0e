"""OrderExecutor on a real ib_insync.IB whose socket is a list: real encoding, real wrapper.

FakeIB imitates ib_insync; here ib_insync itself decides which events fire, in what order,
from the same wrapper calls its decoder makes for orderStatus, execDetails,
commissionReport and error messages.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path

import pytest
from ib_insync import IB, Client, CommissionReport, Execution, OrderState, Stock, Trade

from bot.config.executor import ExecutorConfig
from bot.journal.store import Journal
from bot.model.events import (  # fmt: skip
    FillEvent,
    ModifyOrder,
    OrderSpec,
    OrderType,
    PlaceBracket,
    PlaceOrder,
    Rejection,
    Side,
)
from bot.orders.executor import OrderExecutor
from bot.orders.message_rate import PacingGovernor
from bot.venues.dry_run import DryRunBroker
from bot.venues.ib import IbBroker

from support.times import T0  # isort: skip
from test_executor import details  # isort: skip

AAPL = Stock("AAPL", "SMART", "USD", conId=265598, primaryExchange="NASDAQ")


class Socket:
    numBytesSent = 0
    numMsgSent = 0

    def __init__(self) -> None:
        self.messages: list[list[str]] = []

    def sendMsg(self, msg: bytes) -> None:
        self.messages.append(msg[4:].decode().split("\0")[:-1])

    def isConnected(self) -> bool:
        return True

    def disconnect(self) -> None:
        pass


def wired_ib() -> tuple[IB, Socket]:
    ib = IB()
    sock = Socket()
    c = ib.client
    c.conn = sock  # type: ignore[assignment]
    c.connState = Client.CONNECTED
    c._serverVersion = 176
    c._apiReady = True
    c._reqIdSeq = 10
    ib.wrapper.clientId = 3
    ib.wrapper.lastTime = T0
    return ib, sock


class Wired:
    def __init__(self, tmp: Path, *, dry_run: bool = False) -> None:
        self.ib, self.sock = wired_ib()
        self.journal = Journal(tmp / "j.sqlite")
        broker = DryRunBroker("DU1234567", lambda: T0) if dry_run else IbBroker(self.ib)
        self.ex = OrderExecutor(
            broker, ExecutorConfig(), self.journal, account="DU1234567",
            dry_run=dry_run,
            now=lambda: T0, pacing=PacingGovernor(rate=1000, burst=100),
        )  # fmt: skip
        self.ex.register_contract("AAPL", AAPL, 0.01, details(AAPL))
        self.fills: list[FillEvent] = []
        self.rejections: list[Rejection] = []
        self.ex.fill_event += lambda sid, f: self.fills.append(f)
        self.ex.rejection_event += self.rejections.append

    def trade(self, order_id: int) -> Trade:
        return self.ib.wrapper.trades[(3, order_id)]

    def open_order(self, t: Trade) -> None:
        """IB's openOrder echo, which gives the order its permId (ib_insync keys fills by it)."""
        echo = replace(t.order, permId=9001 + t.order.orderId)
        self.ib.wrapper.openOrder(t.order.orderId, AAPL, echo, OrderState(status="Submitted"))

    def status(self, t: Trade, status: str, filled: float, price: float = 0.0) -> None:
        self.ib.wrapper.orderStatus(
            t.order.orderId, status, filled, t.order.totalQuantity - filled, price, 9001 +
            t.order.orderId, t.order.parentId, price, 3, "",
        )  # fmt: skip

    def execute(self, t: Trade, exec_id: str, qty: float, price: float) -> None:
        ex = Execution(
            execId=exec_id, time=T0, acctNumber="DU1234567", side="BOT", shares=qty,
            price=price, permId=9001 + t.order.orderId, clientId=3, orderId=t.order.orderId,
            cumQty=qty, avgPrice=price, orderRef=t.order.orderRef,
        )  # fmt: skip
        self.ib.wrapper.execDetails(-1, AAPL, ex)


@pytest.fixture
async def w(tmp_path: Path) -> AsyncIterator[Wired]:
    wired = Wired(tmp_path)
    yield wired
    wired.journal.close()


async def test_place_and_modify_write_place_order_messages_with_one_order_id(w: Wired) -> None:
    spec = OrderSpec(Side.SELL, 10, OrderType.STOP, stop_price=95.0)
    w.ex.submit("s1", PlaceOrder("AAPL", spec, "stop"), ref_price=100.0)
    w.ex.submit("s1", ModifyOrder("AAPL", "stop", stop_price=96.0), ref_price=100.0)
    first, second = w.sock.messages
    assert first[0] == second[0] == "3"  # placeOrder
    assert first[1] == second[1] == "10"  # the same orderId: a modification
    assert "95.0" in first and "96.0" in second and "ibbot:s1:AAPL:stop:1" in second
    assert w.trade(10).log[-1].message == "Modify"


async def test_bracket_is_three_messages_and_only_the_last_transmits(w: Wired) -> None:
    bracket = PlaceBracket(
        "AAPL",
        OrderSpec(Side.BUY, 5),
        OrderSpec(Side.SELL, 5, OrderType.LIMIT, limit_price=110.0),
        OrderSpec(Side.SELL, 5, OrderType.STOP, stop_price=90.0),
    )
    w.ex.submit("s1", bracket, ref_price=100.0)
    assert [m[1] for m in w.sock.messages] == ["10", "11", "12"]
    legs = [w.trade(i).order for i in (10, 11, 12)]
    assert [o.transmit for o in legs] == [False, False, True]
    assert [o.parentId for o in legs] == [0, 10, 10]


async def test_live_fill_routes_once_through_the_real_wrapper(w: Wired) -> None:
    w.ex.submit("s1", PlaceOrder("AAPL", OrderSpec(Side.BUY, 10)), ref_price=100.0)
    t = w.trade(10)
    w.open_order(t)
    w.status(t, "Submitted", 0)
    w.status(t, "Filled", 10, 100.25)  # before the execution, as IB often does
    assert "entry" in w.ex.working_orders("s1", "AAPL")
    w.execute(t, "e.1", 10, 100.25)
    w.execute(t, "e.1", 10, 100.25)  # repeated execDetails: ib_insync and we drop it
    w.ib.wrapper.commissionReport(CommissionReport("e.1", 1.0, "USD", 0.0, 0.0, 0))
    assert [(f.quantity, f.price, f.exec_id) for f in w.fills] == [(10, 100.25, "e.1")]
    assert w.ex.position("s1", "AAPL") == 10 and w.ex.commission("s1") == 1.0
    assert w.ex.working_orders("s1", "AAPL") == {}


async def test_order_error_201_becomes_a_rejection(w: Wired) -> None:
    w.ex.submit("s1", PlaceOrder("AAPL", OrderSpec(Side.BUY, 10)), ref_price=100.0)
    w.ib.wrapper.error(10, 201, "Order rejected - reason: no trading permissions", "")
    assert len(w.rejections) == 1
    assert "Error 201, reqId 10: Order rejected - reason: no trading permissions" in (
        w.rejections[0].reason
    )
    assert w.ex.working_orders("s1", "AAPL") == {}


async def test_cancel_writes_cancel_and_202_is_not_a_rejection(w: Wired) -> None:
    spec = OrderSpec(Side.BUY, 10, OrderType.LIMIT, limit_price=90.0)
    w.ex.submit("s1", PlaceOrder("AAPL", spec), ref_price=100.0)
    w.status(w.trade(10), "Submitted", 0)
    w.ex.cancel_all()
    assert w.sock.messages[-1][:3] == ["4", "1", "10"]  # cancelOrder v1 id 10
    w.ib.wrapper.error(10, 202, "Order Canceled - reason:", "")
    w.status(w.trade(10), "Cancelled", 0)
    assert w.rejections == [] and w.ex.working_orders("s1", "AAPL") == {}


async def test_dry_run_writes_no_byte(tmp_path: Path) -> None:
    w = Wired(tmp_path, dry_run=True)
    w.ex.submit("s1", PlaceOrder("AAPL", OrderSpec(Side.BUY, 10)), ref_price=100.0)
    w.ex.submit("s1", PlaceOrder("AAPL", OrderSpec(Side.BUY, 1, OrderType.LIMIT, 9.0), "l"),
                ref_price=100.0)  # fmt: skip
    w.ex.submit("s1", ModifyOrder("AAPL", "l", limit_price=9.5), ref_price=100.0)
    await asyncio.sleep(0)  # the simulated broker answers on the next loop turn
    w.ex.update_price("AAPL", 100.0)  # the market order fills at the next price
    w.ex.cancel_all()
    w.ex.flatten()
    await asyncio.sleep(0)
    w.ex.update_price("AAPL", 100.0)
    assert w.sock.messages == [] and w.ib.client._reqIdSeq == 10
    assert [f.side for f in w.fills] == [Side.BUY, Side.SELL]  # filled locally, then flat
    assert w.ex.position("s1", "AAPL") == 0
    w.journal.close()
