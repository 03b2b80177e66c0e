"""OrderExecutor end to end: unmodified ib_insync against the simulated gateway (bot/gateway).

The market is crafted: FLAT trades at 100.00 all day with bid 100.00 / ask 100.01, so a
market buy fills at 100.01 and a market sell at 100.00; IB's fixed commission on 100
shares is USD 1.00 (0.005 a share, at least 1.00).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ib_insync import IB, Stock
from support.waiting import wait_until

from bot.config.executor import ExecutorConfig
from bot.config.gateway import GatewaySettings
from bot.journal.store import Journal
from bot.model.events import (
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
from bot.venues.ib import IbBroker

gateway_server = pytest.importorskip("bot.gateway.server")

DAY = datetime(2024, 1, 5, 14, 30, tzinfo=UTC)  # 09:30 New York
ACCOUNT = "DU1234567"
INSTRUMENTS = """
defaults:
  STK: {exchange: SMART, primaryExchange: NASDAQ, currency: USD, minTick: 0.01, spread: 0.01,
        timeZoneId: US/Eastern, tradingHours: "04:00-20:00", liquidHours: "09:30-16:00"}
instruments:
  - {symbol: FLAT, secType: STK, conId: 1001, longName: FLAT PRICE INC}
"""


def write_market(root: Path) -> tuple[Path, Path]:
    data = root / "data"
    data.mkdir()
    rows = ["time,open,high,low,close,volume"]
    for day in (DAY - timedelta(days=1), DAY):
        rows += [f"{(day + timedelta(minutes=i)).isoformat()},100,100,100,100,1000"
                 for i in range(390)]  # fmt: skip
    (data / "FLAT.csv").write_text("\n".join(rows) + "\n")
    (root / "instruments.yaml").write_text(INSTRUMENTS)
    return data, root / "instruments.yaml"


class Bot:
    """What the daemon wires up: IB connection, journal, executor, fill/rejection listeners."""

    def __init__(
        self, gw: object, journal_path: Path, pacing: PacingGovernor | None = None
    ) -> None:
        self.gw = gw
        self.pacing = pacing
        self.ib = IB()
        self.journal = Journal(journal_path)
        self.fills: list[FillEvent] = []
        self.rejections: list[Rejection] = []
        self.ex: OrderExecutor

    async def connect(self) -> None:
        await self.ib.connectAsync("127.0.0.1", self.gw.port, clientId=7, timeout=5)  # type: ignore[attr-defined]
        (contract,) = await self.ib.qualifyContractsAsync(Stock("FLAT", "SMART", "USD"))
        self.ex = OrderExecutor(
            IbBroker(self.ib), ExecutorConfig(), self.journal,
            account=self.ib.managedAccounts()[0],
            dry_run=False, now=self.gw.clock.now,  # type: ignore[attr-defined]
            pacing=self.pacing,
        )  # fmt: skip
        self.ex.register_contract("FLAT", contract, 0.01)
        self.ex.fill_event += lambda sid, f: self.fills.append(f)
        self.ex.rejection_event += self.rejections.append
        await self.ex.reconcile()

    def submit(self, intent: object) -> None:
        self.ex.submit("s1", intent, ref_price=100.0)  # type: ignore[arg-type]

    async def settle(self) -> None:
        await self.ib.reqCurrentTimeAsync()  # a round trip: all sent before it is handled

    async def step(self, seconds: float = 5) -> None:
        await self.settle()
        await self.gw.advance(timedelta(seconds=seconds))  # type: ignore[attr-defined]
        await self.settle()

    def close(self) -> None:
        self.ib.disconnect()
        self.journal.close()


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[object]:
    data, instruments = write_market(tmp_path)
    cfg = GatewaySettings(
        port=0, data=data, instruments=instruments, start=DAY + timedelta(minutes=5),
        speed=None, account=ACCOUNT, cash=1_000_000.0, seed=1,
    )  # fmt: skip
    gateway = gateway_server.Gateway(cfg)
    await gateway.start()
    yield gateway
    await gateway.stop()


@pytest.fixture
async def bot(gw: object, tmp_path: Path) -> AsyncIterator[Bot]:
    b = Bot(gw, tmp_path / "journal.sqlite")
    await b.connect()
    yield b
    b.close()
    await asyncio.sleep(0)


async def test_market_order_fills_once_with_commission(bot: Bot) -> None:
    bot.submit(PlaceOrder("FLAT", OrderSpec(Side.BUY, 100)))
    await bot.step()
    assert [(f.side, f.quantity, f.price, f.tag) for f in bot.fills] == [
        (Side.BUY, 100, 100.01, "entry")
    ]
    assert bot.ex.position("s1", "FLAT") == 100
    assert bot.ex.commission("s1") == 1.0
    assert bot.ex.working_orders("s1", "FLAT") == {}
    ((status, ref),) = bot.journal.query("SELECT status, order_ref FROM orders")
    assert (status, ref) == ("Filled", "ibbot:s1:FLAT:entry:1")
    assert bot.journal.query("SELECT quantity, price, commission FROM fills") == [
        (100.0, 100.01, 1.0)
    ]


async def test_modify_in_place_keeps_order_and_perm_id(bot: Bot) -> None:
    spec = OrderSpec(Side.BUY, 10, OrderType.LIMIT, limit_price=99.0)
    bot.submit(PlaceOrder("FLAT", spec, "lmt"))
    await bot.step()
    (w,) = bot.ex.working_orders("s1", "FLAT").values()
    assert w.status == "Submitted"
    trade = next(t for t in bot.ib.openTrades() if t.order.orderId == w.order_id)
    perm_id = trade.order.permId
    bot.submit(ModifyOrder("FLAT", "lmt", limit_price=99.5))
    await bot.step()
    assert trade.order.lmtPrice == 99.5 and trade.order.permId == perm_id
    assert [t.order.orderId for t in bot.ib.openTrades()] == [w.order_id]
    bot.submit(ModifyOrder("FLAT", "lmt", limit_price=100.05))  # now marketable
    await bot.step()
    assert [(f.quantity, f.order_id) for f in bot.fills] == [(10, w.order_id)]
    assert bot.ex.position("s1", "FLAT") == 10


async def test_bracket_entry_fills_and_children_work_until_cancelled(bot: Bot) -> None:
    bot.submit(
        PlaceBracket(
            "FLAT",
            OrderSpec(Side.BUY, 100),
            OrderSpec(Side.SELL, 100, OrderType.LIMIT, limit_price=110.0),
            OrderSpec(Side.SELL, 100, OrderType.STOP, stop_price=90.0),
        )
    )
    await bot.step()
    assert [(f.tag, f.price) for f in bot.fills] == [("bracket", 100.01)]
    working = bot.ex.working_orders("s1", "FLAT")
    assert set(working) == {"bracket.tp", "bracket.sl"}
    legs = {t.order.orderRef: t.order for t in bot.ib.openTrades()}
    tp, sl = legs["ibbot:s1:FLAT:bracket.tp:1"], legs["ibbot:s1:FLAT:bracket.sl:1"]
    assert tp.ocaGroup == sl.ocaGroup == "ibbot:s1:FLAT:bracket:1"
    bot.ex.cancel_all("s1")
    await bot.step()
    assert bot.ex.working_orders("s1", "FLAT") == {}
    assert bot.ib.openTrades() == [] and bot.rejections == []
    bot.ex.flatten("s1")
    await bot.step()
    assert bot.ex.position("s1", "FLAT") == 0
    assert [f.price for f in bot.fills] == [100.01, 100.0]


async def test_restart_adopts_working_orders_and_positions(gw: object, tmp_path: Path) -> None:
    first = Bot(gw, tmp_path / "journal.sqlite")
    await first.connect()
    first.submit(PlaceOrder("FLAT", OrderSpec(Side.BUY, 100)))
    await first.step()
    stop = OrderSpec(Side.SELL, 100, OrderType.STOP, stop_price=95.0)
    first.submit(PlaceOrder("FLAT", stop, "stop"))
    await first.step()
    stop_id = first.ex.working_orders("s1", "FLAT")["stop"].order_id
    first.close()
    await wait_until(lambda: not gw.sessions, what="client 7 gone")  # type: ignore[attr-defined]

    second = Bot(gw, tmp_path / "journal.sqlite")
    await second.connect()
    try:
        assert second.ex.position("s1", "FLAT") == 100
        assert second.fills == []  # nothing routed twice
        (w,) = second.ex.working_orders("s1", "FLAT").values()
        assert (w.tag, w.order_id, w.spec.stop_price) == ("stop", stop_id, 95.0)
        second.submit(ModifyOrder("FLAT", "stop", stop_price=96.0))
        await second.step()
        trades = second.ib.openTrades()
        assert [(t.order.orderId, t.order.auxPrice) for t in trades] == [(stop_id, 96.0)]
    finally:
        second.close()
