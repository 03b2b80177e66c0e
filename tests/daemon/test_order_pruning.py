"""Finished orders are forgotten, here and in ib_insync; late reports still count once.

Unmodified ib_insync against the simulated gateway (the market of test_executor_e2e.py: FLAT
at 100.00, bid 100.00 / ask 100.01, USD 1.00 commission a fill).
"""

from __future__ import annotations

import asyncio
import gc
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from ib_insync import CommissionReport, Execution, Fill, Trade, TradeLogEntry
from test_executor import Harness, place
from test_executor_e2e import ACCOUNT, DAY, Bot, write_market

from bot.config.gateway import GatewaySettings
from bot.model.events import OrderSpec, PlaceOrder, Side
from bot.orders.message_rate import PacingGovernor
from bot.orders.pruning import BATCH, PATIENCE
from bot.orders.records import OrderRecord

gateway_server = pytest.importorskip("bot.gateway.server")


@pytest.fixture
async def gw(tmp_path: Path) -> AsyncIterator[object]:
    data, instruments = write_market(tmp_path)
    cfg = GatewaySettings(
        port=0, data=data, instruments=instruments, start=DAY + timedelta(minutes=5),
        speed=None, account=ACCOUNT, cash=10_000_000.0, seed=1,
    )  # fmt: skip
    gateway = gateway_server.Gateway(cfg, gateway_server.GatewayTuning(max_message_rate=0))
    await gateway.start()
    yield gateway
    await gateway.stop()


@pytest.fixture
async def bot(gw: object, tmp_path: Path) -> AsyncIterator[Bot]:
    # No wall-clock pacing: thousands of orders in seconds (the gateway's limit is off too).
    b = Bot(gw, tmp_path / "journal.sqlite", PacingGovernor(rate=1e9, burst=10**9))
    b.ib.client.MaxRequests = 0  # nor ib_insync's own throttle (45 a second)
    await b.connect()
    yield b
    b.close()


def _sizes(bot: Bot) -> dict[str, int]:
    w = bot.ib.wrapper
    ex = bot.ex
    return {
        "wrapper.trades": len(w.trades),
        "wrapper.permId2Trade": len(w.permId2Trade),
        "wrapper.fills": len(w.fills),
        "records": len(ex._records.by_id),
        "refs": len(ex._records.by_ref),
        "bound": ex._tracker.bound,
        "finished": len(ex._tracker.finished),
    }


def _alive() -> dict[str, int]:
    """Live client-side objects of each kind an order leaves behind unless pruned (the
    gateway in this process keeps the day's orders in its own types)."""
    kinds = (Trade, Fill, TradeLogEntry, OrderRecord)
    counts = dict.fromkeys((k.__name__ for k in kinds), 0)
    for obj in gc.get_objects():
        if isinstance(obj, kinds):
            counts[type(obj).__name__] += 1
    return counts


async def _round_trips(bot: Bot, n: int, first: int) -> int:
    """``n`` market orders of 10 shares, bought and sold in turn, 50 to a 5-second step; the
    fills they got (the test's own list of them is emptied as it goes)."""
    fills = 0
    for i in range(first, first + n):
        side = Side.BUY if i % 2 == 0 else Side.SELL
        bot.submit(PlaceOrder("FLAT", OrderSpec(side, 10), f"o{i}"))
        if i % 50 == 49 or i == first + n - 1:
            await bot.step()
            fills += len(bot.fills)
            bot.fills.clear()
    return fills


@pytest.mark.parametrize(
    "orders", [2000, pytest.param(20_000, marks=pytest.mark.slow, id="slow-20000")]
)
async def test_memory_and_ib_insync_trades_stay_flat_over_thousands_of_orders(
    bot: Bot, orders: int
) -> None:
    warm = orders // 4
    assert await _round_trips(bot, warm, 0) == warm  # batches at their working size
    gc.collect()
    sizes, alive = _sizes(bot), _alive()
    assert await _round_trips(bot, orders - warm, warm) == orders - warm
    gc.collect()
    assert bot.ex.position("s1", "FLAT") == 0
    assert bot.ex.pruner.pruned >= orders - 2 * BATCH
    # At most two batches of finished orders are kept, here and in ib_insync.
    for name, n in {**_sizes(bot), **_alive()}.items():
        assert n <= 2 * BATCH * (3 if name == "TradeLogEntry" else 1) + 10, (name, n)
    assert _sizes(bot)["wrapper.trades"] <= sizes["wrapper.trades"] + BATCH, sizes
    assert _alive()["Trade"] <= alive["Trade"] + BATCH, alive


async def test_late_reports_of_a_pruned_order_are_journalled_exactly_once(bot: Bot) -> None:
    bot.submit(PlaceOrder("FLAT", OrderSpec(Side.BUY, 100)))
    await bot.step()
    (first,) = bot.fills
    w = bot.ib.wrapper
    (order,) = (t.order for t in w.trades.values())
    assert bot.ex.pruner.prune() == 1
    assert (len(w.trades), len(w.permId2Trade), len(w.fills)) == (0, 0, 0)
    # What the decoder would hand the wrapper: a correction's execution of the ended order,
    # then its commission report, a repeat of each, and a repeat of the first fill's report.
    late = Execution(
        execId=first.exec_id + ".late", time=DAY + timedelta(minutes=6), acctNumber=ACCOUNT,
        side="BOT", shares=5, price=100.02, permId=order.permId, clientId=7,
        orderId=order.orderId, orderRef=order.orderRef, cumQty=105, avgPrice=100.01,
    )  # fmt: skip
    report = CommissionReport(late.execId, 0.25, "USD")
    contract = bot.ex._placer.contracts["FLAT"][0]
    for _ in range(2):
        w.execDetails(-1, contract, late)
        w.commissionReport(report)
        w.commissionReport(CommissionReport(first.exec_id, 1.0, "USD"))
    assert [f.exec_id for f in bot.fills] == [first.exec_id, late.execId]
    assert bot.ex.position("s1", "FLAT") == 105
    assert bot.ex.commission("s1") == pytest.approx(1.25)
    bot.journal.flush()
    assert bot.journal.query("SELECT exec_id, quantity, commission FROM fills ORDER BY time") == [
        (first.exec_id, 100.0, 1.0), (late.execId, 5.0, 0.25),
    ]  # fmt: skip
    assert len(w.fills) == 0  # the late one was not kept either


async def test_a_finished_order_waits_for_its_commission_then_goes_anyway(bot: Bot) -> None:
    bot.submit(PlaceOrder("FLAT", OrderSpec(Side.BUY, 100)))
    await bot.step()
    (trade,) = bot.ib.wrapper.trades.values()
    trade.fills[0].commissionReport.execId = ""  # as if its report were still due
    assert [bot.ex.pruner.prune() for _ in range(PATIENCE + 1)] == [0] * PATIENCE + [1]
    assert not bot.ib.wrapper.trades


def _count_passes(h: Harness) -> list[int]:
    """Each pruning pass of ``h``'s executor, as the number of orders placed before it."""
    pruner = h.ex.pruner
    passes: list[int] = []
    prune = pruner.prune
    pruner.prune = lambda: passes.append(len(h.ib.placed())) or prune()  # type: ignore[method-assign]
    return passes


async def test_a_pass_waits_for_the_loops_next_turn_after_the_order(tmp_path: Path) -> None:
    h = Harness(tmp_path)
    h.ex.pruner.batch = 2
    passes = _count_passes(h)
    for i in range(2):
        h.submit(place(f"e{i}"))
        h.ib.fill(h.last_trade())
    h.submit(place("e2"))  # a batch is waiting: e2 goes out first, the pass comes after
    assert passes == []
    await asyncio.sleep(0)
    assert passes == [3]
    h.journal.close()


async def test_with_no_turn_of_the_loop_a_second_batch_is_pruned_in_place(tmp_path: Path) -> None:
    """A backtest's replay never yields to the loop: memory stays within two batches."""
    h = Harness(tmp_path)
    h.ex.pruner.batch = 1
    passes = _count_passes(h)
    h.submit(place("e0"))
    h.ib.fill(h.last_trade())
    h.submit(place("e1"))  # the pass is handed to the loop
    h.ib.fill(h.last_trade())
    assert passes == []
    h.submit(place("e2"))  # two batches and still no turn
    assert passes == [3]
    h.journal.close()
