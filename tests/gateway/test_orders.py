"""Orders through the gateway, checked against hand-computed numbers.

FLAT trades at 100.00 (bid 100.00 / ask 100.01) until 10:00 on the second day, then at 101.00
(bid 101.00 / ask 101.01). IB's fixed commission: USD 0.005 a share, at least 1.00.

Buy 100 at market: fills at the ask, 100.01; commission 1.00; avgCost (10001 + 1) / 100 =
100.02; cash 1,000,000 - 10,001 - 1 = 989,998; marked at 100.00: value 10,000, unrealized
-2, net liquidation 999,998. At 101.00: unrealized 98. Sell 100 at market: fills at the bid,
101.00; commission 1.00; realized (101.00 - 100.02) x 100 - 1 = 97; cash 1,000,097.
"""

from __future__ import annotations

from datetime import timedelta

from gateway_helpers import ACCOUNT, client, flat, settle
from ib_insync import IB, ExecutionFilter, LimitOrder, MarketOrder, Stock

from bot.gateway.server import Gateway


def _values(ib: IB) -> dict[str, float]:
    return {
        v.tag: float(v.value)
        for v in ib.accountValues()
        if v.currency == "USD" and v.tag != "Currency"
    }


async def test_market_buy_then_sell(gateway: Gateway, ib: IB) -> None:
    c = flat()
    await ib.qualifyContractsAsync(c)
    pnl = ib.reqPnL(ACCOUNT)
    single = ib.reqPnLSingle(ACCOUNT, "", c.conId)
    buy = ib.placeOrder(c, MarketOrder("BUY", 100))
    await settle(ib)
    assert buy.orderStatus.status == "Submitted" and buy.orderStatus.permId > 0
    await gateway.advance(timedelta(seconds=5))
    await settle(ib)

    assert buy.orderStatus.status == "Filled"
    assert (buy.orderStatus.filled, buy.orderStatus.avgFillPrice) == (100, 100.01)
    assert buy.orderStatus.clientId == 1
    [fill] = buy.fills
    assert (fill.execution.side, fill.execution.shares, fill.execution.price) == (
        "BOT",
        100,
        100.01,
    )
    assert fill.commissionReport.commission == 1.0
    [pos] = ib.positions()
    assert (pos.position, pos.avgCost) == (100, 100.02)
    [item] = ib.portfolio()
    assert (item.position, item.marketPrice, item.marketValue) == (100, 100.0, 10_000.0)
    assert abs(item.unrealizedPNL - -2.0) < 1e-9 and item.realizedPNL == 0
    v = _values(ib)
    assert v["TotalCashValue"] == 989_998.0
    assert v["NetLiquidation"] == 999_998.0 == v["TotalCashValue"] + 100 * 100.0
    assert (v["GrossPositionValue"], v["UnrealizedPnL"], v["RealizedPnL"]) == (10_000, -2, 0)
    assert (pnl.dailyPnL, pnl.unrealizedPnL, pnl.realizedPnL) == (-2.0, -2.0, 0.0)
    assert (single.position, single.unrealizedPnL, single.value) == (100, -2.0, 10_000.0)

    await gateway.advance(timedelta(minutes=31))  # past 10:00: FLAT trades at 101.00
    await settle(ib)
    assert abs(pnl.unrealizedPnL - 98.0) < 1e-9 and abs(single.value - 10_100.0) < 1e-9

    sell = ib.placeOrder(c, MarketOrder("SELL", 100))
    await settle(ib)
    await gateway.advance(timedelta(seconds=5))
    await settle(ib)
    assert sell.orderStatus.status == "Filled" and sell.orderStatus.avgFillPrice == 101.0
    report = sell.fills[0].commissionReport
    assert report.commission == 1.0 and abs(report.realizedPNL - 97.0) < 1e-9
    assert sell.fills[0].execution.execId != fill.execution.execId
    assert sell.orderStatus.permId != buy.orderStatus.permId
    assert ib.positions() == [] and ib.portfolio() == []
    v = _values(ib)
    assert (v["TotalCashValue"], v["NetLiquidation"]) == (1_000_097.0, 1_000_097.0)
    assert (v["RealizedPnL"], v["UnrealizedPnL"], v["GrossPositionValue"]) == (97, 0, 0)
    assert abs(pnl.realizedPnL - 97.0) < 1e-9 and abs(pnl.dailyPnL - 97.0) < 1e-9

    fills = await ib.reqExecutionsAsync(ExecutionFilter(side="SLD"))
    assert [f.execution.price for f in fills] == [101.0]
    assert [f.commissionReport.commission for f in ib.fills()] == [1.0, 1.0]
    completed = await ib.reqCompletedOrdersAsync(False)
    assert [t.order.action for t in completed] == ["BUY", "SELL"]
    assert {t.orderStatus.status for t in completed} == {"Filled"}


async def test_limit_order_rests_then_cancel_gives_cancelled_and_202(
    gateway: Gateway, ib: IB
) -> None:
    c = flat()
    await ib.qualifyContractsAsync(c)
    codes: list[tuple[int, int]] = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append((req_id, code))
    trade = ib.placeOrder(c, LimitOrder("BUY", 100, 90.0))
    await settle(ib)
    await gateway.advance(timedelta(seconds=10))
    await settle(ib)
    assert trade.orderStatus.status == "Submitted" and trade.fills == []
    [open_trade] = await ib.reqOpenOrdersAsync()
    assert open_trade.order.permId == trade.order.permId and open_trade.order.lmtPrice == 90.0
    ib.cancelOrder(trade.order)
    await settle(ib)
    assert trade.orderStatus.status == "Cancelled"
    assert (trade.order.orderId, 202) in codes
    assert ib.openTrades() == []


async def test_modify_by_placing_the_same_order_id(gateway: Gateway, ib: IB) -> None:
    c = flat()
    await ib.qualifyContractsAsync(c)
    trade = ib.placeOrder(c, LimitOrder("SELL", 50, 105.0))
    await settle(ib)
    trade.order.lmtPrice = 100.5
    ib.placeOrder(c, trade.order)
    await settle(ib)
    assert trade.order.lmtPrice == 100.5
    await gateway.advance(timedelta(minutes=31))  # trades through 100.50: fills at the limit
    await settle(ib)
    assert trade.orderStatus.status == "Filled" and trade.orderStatus.avgFillPrice == 100.5


async def test_global_cancel_cancels_every_client(gateway: Gateway) -> None:
    c = flat()
    async with client(gateway, 1) as a, client(gateway, 2) as b:
        await a.qualifyContractsAsync(c)
        ta = a.placeOrder(c, LimitOrder("BUY", 10, 95.0))
        tb = b.placeOrder(c, LimitOrder("BUY", 10, 96.0))
        await settle(a)
        await settle(b)
        assert len(await b.reqAllOpenOrdersAsync()) == 2
        assert [t.order.permId for t in await b.reqOpenOrdersAsync()] == [tb.order.permId]
        a.reqGlobalCancel()
        await settle(a)
        await settle(b)
        assert ta.orderStatus.status == tb.orderStatus.status == "Cancelled"


async def test_orders_persist_across_reconnect_and_fills_while_away(gateway: Gateway) -> None:
    c = flat()
    async with client(gateway, 5) as first:
        await first.qualifyContractsAsync(c)
        resting = first.placeOrder(c, LimitOrder("BUY", 100, 90.0))
        away = first.placeOrder(c, LimitOrder("SELL", 100, 100.5))
        await settle(first)
        ids = (resting.order.orderId, resting.order.permId, away.order.permId)
    await gateway.advance(timedelta(minutes=31))  # the sell fills while client 5 is away
    async with client(gateway, 5) as again:
        by_perm = {t.order.permId: t for t in again.trades()}
        assert by_perm[ids[1]].orderStatus.status == "Submitted"
        assert by_perm[ids[1]].order.orderId == ids[0]
        assert [t.order.permId for t in again.openTrades()] == [ids[1]]
        assert [f.execution.permId for f in again.fills()] == [ids[2]]
        assert again.fills()[0].execution.price == 100.5
        assert [p.position for p in again.positions()] == [-100]
        assert again.client.getReqId() > ids[0]  # nextValidId is past the old orders
        again.cancelOrder(by_perm[ids[1]].order)
        await settle(again)
        assert by_perm[ids[1]].orderStatus.status == "Cancelled"


async def test_events_go_to_the_placing_client_only(gateway: Gateway) -> None:
    c = flat()
    async with client(gateway, 1) as a, client(gateway, 2) as b:
        await a.qualifyContractsAsync(c)
        trade = a.placeOrder(c, MarketOrder("BUY", 10))
        await settle(a)
        await gateway.advance(timedelta(seconds=5))
        await settle(a)
        await settle(b)
        assert trade.orderStatus.status == "Filled"
        assert b.trades() == [] and b.fills() == []
        # ... but both see the account: positions are per account
        assert [p.position for p in b.positions()] == [10]


async def test_rejected_orders(gateway: Gateway, ib: IB) -> None:
    c = flat()
    await ib.qualifyContractsAsync(c)
    await gateway.advance(timedelta(seconds=5))  # a first price, for the margin check
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    bad_tick = ib.placeOrder(c, LimitOrder("BUY", 10, 99.999))
    too_big = ib.placeOrder(c, MarketOrder("BUY", 1_000_000))
    unknown = ib.placeOrder(Stock("NOPE", "SMART", "USD"), MarketOrder("BUY", 1))
    await settle(ib)
    assert bad_tick.orderStatus.status == "Inactive"  # 110 is a warning to ib_insync
    assert too_big.orderStatus.status == unknown.orderStatus.status == "Cancelled"
    assert codes == [110, 201, 200]


async def test_what_if(gateway: Gateway, ib: IB) -> None:
    c = flat()
    await ib.qualifyContractsAsync(c)
    await gateway.advance(timedelta(seconds=5))
    state = await ib.whatIfOrderAsync(c, MarketOrder("BUY", 100))
    assert float(state.initMarginChange) == 100 * 100.0 * 0.25
    assert ib.openTrades() == []
