"""Brackets, OCA groups, modify, cancel, global cancel and the order/execution queries through
the unmodified ib_insync client, on the staircase market of order_market.py.

Quotes are price -/+ 0.01; every 100- or 200-share order pays the 1.00 minimum commission.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gateway_helpers import ACCOUNT, client, errors, settle
from ib_insync import ExecutionFilter, LimitOrder, MarketOrder, Order, StopOrder
from order_market import OPEN, at, fills, path, running, step, to

# ---- brackets ------------------------------------------------------------------------------


async def test_bracket_is_held_until_the_last_child_then_take_profit_cancels_the_stop(
    files: tuple[Path, Path],
) -> None:
    async with running(files) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        parent, profit, loss = ib.bracketOrder("BUY", 100, 50.10, 50.90, 49.80)
        assert (parent.transmit, profit.transmit, loss.transmit) == (False, False, True)
        p = ib.placeOrder(c, parent)
        await settle(ib)
        await to(gw, ib, at(1))  # a marketable parent, but not transmitted: no fill
        assert p.fills == [] and p.orderStatus.status == "PreSubmitted"
        tp = ib.placeOrder(c, profit)
        await settle(ib)
        await to(gw, ib, at(2))  # still held: the stop loss (transmit=True) has not come
        assert p.fills == [] and tp.orderStatus.status == "PreSubmitted"
        sl = ib.placeOrder(c, loss)
        await settle(ib)
        assert p.orderStatus.status == "Submitted"
        assert tp.orderStatus.status == sl.orderStatus.status == "PreSubmitted"
        await to(gw, ib, at(2, 2))  # the parent fills at the ask; the children go live
        assert fills(p) == [(100, 50.01)]
        assert tp.orderStatus.status == "Submitted"  # a resting limit
        assert sl.orderStatus.status == "PreSubmitted"  # an untriggered stop
        await to(gw, ib, at(20, 2))  # 51.00 trades through the take profit at 50.90
        assert fills(tp) == [(100, 50.90)]
        assert sl.orderStatus.status == "Cancelled" and sl.fills == []
        assert path(sl) == ["PendingSubmit", "PreSubmitted", "Cancelled"]
        assert ib.positions() == [] and ib.openTrades() == []
        # bought at 50.02 a share with the commission: (50.90 - 50.02) x 100 - 1.00
        assert tp.fills[0].commissionReport.realizedPNL == pytest.approx(87.0)


async def test_bracket_children_wait_for_the_parent_and_the_stop_cancels_the_target(
    files: tuple[Path, Path],
) -> None:
    async with running(files) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        p, tp, sl = (ib.placeOrder(c, o) for o in ib.bracketOrder("BUY", 100, 49.60, 50.40, 49.20))
        await settle(ib)
        await to(gw, ib, at(49))  # 50.50 and 51.00 pass the take profit: but no parent fill
        assert p.orderStatus.status == "Submitted" and p.fills == []
        assert tp.fills == [] and tp.orderStatus.status == "PreSubmitted"
        await to(gw, ib, at(50, 1.25))  # the gap's first tick, 49.00: the parent at 49.60
        assert fills(p) == [(100, 49.60)] and sl.fills == []
        await to(gw, ib, at(50, 2.5))  # next tick: 49.00 <= 49.20 fires the stop at 48.99
        assert fills(sl) == [(100, 48.99)]
        assert tp.orderStatus.status == "Cancelled" and tp.fills == []
        assert sl.fills[0].commissionReport.realizedPNL == pytest.approx(
            (48.99 - 49.61) * 100 - 1.0
        )


async def test_cancelling_the_parent_cancels_its_children(files: tuple[Path, Path]) -> None:
    async with running(files) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        seen = errors(ib)
        trades = [ib.placeOrder(c, o) for o in ib.bracketOrder("BUY", 100, 49.60, 50.40, 49.20)]
        await settle(ib)
        ib.cancelOrder(trades[0].order)
        await settle(ib)
        assert [t.orderStatus.status for t in trades] == ["Cancelled"] * 3
        assert sorted(r for r, code, _ in seen if code == 202) == [t.order.orderId for t in trades]
        await to(gw, ib, at(51))
        assert all(t.fills == [] for t in trades)


# ---- OCA -----------------------------------------------------------------------------------


def oca(action: str, qty: float, limit: float, group: str, kind: int) -> Order:
    o = LimitOrder(action, qty, limit)
    o.ocaGroup, o.ocaType = group, kind
    return o


async def test_oca_type_1_cancels_the_others(files: tuple[Path, Path]) -> None:
    async with running(files) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        a = ib.placeOrder(c, oca("SELL", 100, 50.40, "G1", 1))
        b = ib.placeOrder(c, oca("SELL", 100, 50.90, "G1", 1))
        await settle(ib)
        await to(gw, ib, at(10, 2))  # 50.50 trades through 50.40
        assert fills(a) == [(100, 50.40)]
        assert b.orderStatus.status == "Cancelled" and b.fills == []
        await to(gw, ib, at(21))  # 51.00 would have filled b
        assert b.fills == [] and [p.position for p in ib.positions()] == [-100]


@pytest.mark.parametrize("kind", [2, 3])
async def test_oca_types_2_and_3_reduce_the_others(files: tuple[Path, Path], kind: int) -> None:
    async with running(files) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        a = ib.placeOrder(c, oca("SELL", 100, 50.40, "G2", kind))
        b = ib.placeOrder(c, oca("SELL", 150, 50.90, "G2", kind))
        await settle(ib)
        await to(gw, ib, at(10, 2))
        assert fills(a) == [(100, 50.40)]
        assert b.orderStatus.status == "Submitted"
        assert (b.order.totalQuantity, b.orderStatus.remaining) == (50, 50)
        await to(gw, ib, at(20, 2))
        assert fills(b) == [(50, 50.90)] and b.orderStatus.status == "Filled"
        assert [p.position for p in ib.positions()] == [-150]


# ---- modify, cancel ------------------------------------------------------------------------


async def test_modify_price_and_quantity_by_re_placing_the_order_id(
    files: tuple[Path, Path],
) -> None:
    async with running(files) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        trade = ib.placeOrder(c, LimitOrder("SELL", 100, 52.50))
        await settle(ib)
        await to(gw, ib, at(5))
        order_id, perm_id = trade.order.orderId, trade.order.permId
        trade.order.lmtPrice, trade.order.totalQuantity = 50.90, 200
        assert ib.placeOrder(c, trade.order) is trade
        await settle(ib)
        assert [(e.status, e.message) for e in trade.log[-2:]] == [
            ("Submitted", "Modify"),
            ("Submitted", ""),
        ]
        assert (trade.orderStatus.filled, trade.orderStatus.remaining) == (0, 200)
        [seen] = await ib.reqOpenOrdersAsync()
        assert (seen.order.orderId, seen.order.permId) == (order_id, perm_id)
        assert (seen.order.lmtPrice, seen.order.totalQuantity) == (50.90, 200)
        await to(gw, ib, at(20, 2))  # 51.00 trades through the new limit
        assert fills(trade) == [(200, 50.90)]
        assert trade.fills[0].commissionReport.commission == 1.0  # 200 x 0.005
        # a filled order cannot be modified (ib_insync refuses locally: send it raw)
        seen_errors = errors(ib)
        again = LimitOrder("SELL", 200, 51.50)
        ib.client.placeOrder(order_id, c, again)
        await settle(ib)
        assert [(code, text) for _, code, text in seen_errors] == [
            (104, "Can't modify a filled order.")
        ]


async def test_cancel_order(files: tuple[Path, Path]) -> None:
    async with running(files) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        seen = errors(ib)
        trade = ib.placeOrder(c, StopOrder("SELL", 100, 49.80))
        await settle(ib)
        await to(gw, ib, at(1))
        ib.cancelOrder(trade.order)
        await settle(ib)
        assert path(trade) == ["PendingSubmit", "PreSubmitted", "PendingCancel", "Cancelled"]
        assert seen == [(trade.order.orderId, 202, "Order Canceled - reason:")]
        await to(gw, ib, at(51))  # the gap would have fired it
        assert trade.fills == []
        ib.cancelOrder(trade.order)  # again: IB says it cannot
        await settle(ib)
        assert seen[-1][1] == 10148


async def test_global_cancel_sends_a_status_and_202_for_every_open_order(
    files: tuple[Path, Path],
) -> None:
    async with running(files) as gw, client(gw, 1) as a, client(gw, 2) as b:
        c = step()
        await a.qualifyContractsAsync(c)
        seen_a, seen_b = errors(a), errors(b)
        mine = [
            a.placeOrder(c, LimitOrder("BUY", 100, 45.0)),
            a.placeOrder(c, MarketOrder("BUY", 1)),
        ]
        theirs = b.placeOrder(c, StopOrder("SELL", 100, 40.0))
        await settle(a)
        await settle(b)
        await to(gw, a, at(0, 2))  # the market order fills first: not open any more
        await settle(b)
        assert mine[1].orderStatus.status == "Filled"
        a.reqGlobalCancel()
        await settle(a)
        await settle(b)
        assert mine[0].orderStatus.status == theirs.orderStatus.status == "Cancelled"
        assert [(r, code) for r, code, _ in seen_a] == [(mine[0].order.orderId, 202)]
        assert [(r, code) for r, code, _ in seen_b] == [(theirs.order.orderId, 202)]
        assert await a.reqAllOpenOrdersAsync() == []


# ---- queries -------------------------------------------------------------------------------


async def test_open_all_open_completed_orders_and_executions_with_a_filter(
    files: tuple[Path, Path],
) -> None:
    async with running(files) as gw, client(gw, 1) as a, client(gw, 2) as b:
        c = step()
        await a.qualifyContractsAsync(c)
        a_buy = a.placeOrder(c, MarketOrder("BUY", 100))
        a_rest = a.placeOrder(c, LimitOrder("BUY", 100, 45.0))
        b_sell = b.placeOrder(c, LimitOrder("SELL", 200, 50.40))
        b_rest = b.placeOrder(c, LimitOrder("SELL", 100, 60.0))
        await settle(a)
        await settle(b)
        await to(gw, a, at(10, 2))  # a's market buy at 50.01; then b's sell at 50.40
        await settle(b)
        assert fills(a_buy) == [(100, 50.01)] and fills(b_sell) == [(200, 50.40)]

        assert [t.order.permId for t in await a.reqOpenOrdersAsync()] == [a_rest.order.permId]
        every = await b.reqAllOpenOrdersAsync()
        assert {(t.order.clientId, t.order.permId) for t in every} == {
            (1, a_rest.order.permId),
            (2, b_rest.order.permId),
        }
        assert {t.orderStatus.status for t in every} == {"Submitted"}

        done = await a.reqCompletedOrdersAsync(apiOnly=True)
        assert [(t.order.permId, t.orderStatus.status) for t in done] == [
            (a_buy.order.permId, "Filled"),
            (b_sell.order.permId, "Filled"),
        ]
        # (IB's completedOrder message carries no orderId or clientId: permId identifies)

        everything = await a.reqExecutionsAsync()
        assert [(f.execution.clientId, f.execution.side) for f in everything] == [
            (1, "BOT"),
            (2, "SLD"),
        ]
        assert {f.execution.acctNumber for f in everything} == {ACCOUNT}
        # (ib_insync attaches commission reports to the first Fill of an execId it saw)
        assert [f.commissionReport.commission for f in a.fills()] == [1.0, 1.0]
        by_client = await a.reqExecutionsAsync(ExecutionFilter(clientId=2))
        assert [(f.execution.shares, f.execution.price) for f in by_client] == [(200, 50.40)]
        sells = await a.reqExecutionsAsync(ExecutionFilter(symbol="STEP", side="SELL"))
        assert [f.execution.orderId for f in sells] == [b_sell.order.orderId]
        assert await a.reqExecutionsAsync(ExecutionFilter(symbol="HTB")) == []
        since = (OPEN.replace(minute=35)).strftime("%Y%m%d %H:%M:%S UTC")  # 14:35 UTC
        later = await a.reqExecutionsAsync(ExecutionFilter(time=since))
        assert [f.execution.side for f in later] == ["SLD"]  # b's sell came at 14:40
