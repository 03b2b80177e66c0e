"""Partial fills under a participation cap, short-sale refusals and the buying-power check,
through the unmodified ib_insync client on the staircase market of order_market.py.

With ``participation=0.1`` an order takes at most floor(0.1 x size) of each trade print. The
market's first STEP prints after Friday's open are 326, 300, 82, 321 ... shares (the seeded
split of each bar's 10 000 shares), so a 100-share market buy fills 32 + 30 + 8 + 30.
"""

from __future__ import annotations

import math
from datetime import timedelta
from pathlib import Path

import pytest
from gateway_helpers import ACCOUNT, CASH, client, errors, settle
from ib_insync import IB, LimitOrder, MarketOrder, Trade
from order_market import OPEN, STEP_ID, at, htb, running, step, to

MARGIN_TEXT = (
    "Order rejected - reason:YOUR ORDER IS NOT ACCEPTED. IN ORDER TO OBTAIN THE DESIRED POSITION"
    " YOUR EQUITY WITH LOAN VALUE [{equity} USD] MUST EXCEED THE INITIAL MARGIN [{margin} USD]"
)
SHORT_TEXT = "Order rejected - reason:Short sale is not allowed for this contract in this account."


def values(ib: IB) -> dict[str, float]:
    return {
        v.tag: float(v.value)
        for v in ib.accountValues()
        if v.currency == "USD" and v.tag != "Currency"
    }


# ---- partial fills -------------------------------------------------------------------------


async def test_partial_fills_under_a_participation_cap(files: tuple[Path, Path]) -> None:
    async with running(files, participation=0.1) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        prints = [t.last_size for t in gw.market.ticks(OPEN, at(0, 5)) if t.con_id == STEP_ID]
        assert prints == [326, 300, 82, 321]  # the seeded sizes the docstring quotes
        assert [math.floor(0.1 * s) for s in prints] == [32, 30, 8, 32]

        statuses: list[tuple[str, float, float, float]] = []
        buy = ib.placeOrder(c, MarketOrder("BUY", 100))
        ioc = ib.placeOrder(c, MarketOrder("BUY", 100, tif="IOC"))
        fok_big = ib.placeOrder(c, MarketOrder("BUY", 100, tif="FOK"))
        fok_small = ib.placeOrder(c, MarketOrder("BUY", 20, tif="FOK"))
        await settle(ib)

        def record(t: Trade) -> None:
            s = t.orderStatus
            statuses.append((s.status, s.filled, s.remaining, s.avgFillPrice))

        buy.statusEvent += record
        await to(gw, ib, at(0, 5))

        # each order has its own cap on each print
        ex = [f.execution for f in buy.fills]
        assert [e.shares for e in ex] == [32, 30, 8, 30]
        assert [e.cumQty for e in ex] == [32, 62, 70, 100]
        assert {e.price for e in ex} == {50.01} and {e.avgPrice for e in ex} == {50.01}
        assert len({e.execId for e in ex}) == 4
        # the 1.00 minimum is for the whole order: the first execution pays it
        assert [f.commissionReport.commission for f in buy.fills] == [1.0, 0.0, 0.0, 0.0]
        assert statuses == [
            ("Submitted", 32, 68, 50.01),
            ("Submitted", 62, 38, 50.01),
            ("Submitted", 70, 30, 50.01),
            ("Filled", 100, 0, 50.01),
        ]
        assert [e.message for e in buy.log if e.message.startswith("Fill")] == [
            "Fill 32.0@50.01",
            "Fill 30.0@50.01",
            "Fill 8.0@50.01",
            "Fill 30.0@50.01",
        ]
        # IOC: what the first print allows, the rest cancelled
        assert [f.execution.shares for f in ioc.fills] == [32]
        s = ioc.orderStatus
        assert (s.status, s.filled, s.remaining) == ("Cancelled", 32, 68)
        # FOK: all on the first print or nothing
        assert fok_big.orderStatus.status == "Cancelled" and fok_big.fills == []
        assert [f.execution.shares for f in fok_small.fills] == [20]

        [pos] = ib.positions()
        assert pos.position == 100 + 32 + 20


async def test_a_resting_limit_fills_in_pieces_at_its_price(files: tuple[Path, Path]) -> None:
    async with running(files, participation=0.1, start=at(19)) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        [sell] = [ib.placeOrder(c, LimitOrder("SELL", 100, 50.90))]
        await settle(ib)
        await to(gw, ib, at(20, 10))  # 51.00 from 14:50: through the limit, print after print
        prints = [t.last_size for t in gw.market.ticks(at(20), at(20, 10)) if t.con_id == STEP_ID]
        expected: list[float] = []
        for size in prints:
            take = min(100 - sum(expected), math.floor(0.1 * size))
            if take:
                expected.append(take)
        assert sum(expected) == 100 and len(expected) > 1
        assert [(f.execution.shares, f.execution.price) for f in sell.fills] == [
            (q, 50.90) for q in expected
        ]
        assert sell.orderStatus.avgFillPrice == 50.90 and sell.orderStatus.status == "Filled"


# ---- short sales and buying power ----------------------------------------------------------


async def test_short_sale_refused_for_a_non_shortable_instrument(files: tuple[Path, Path]) -> None:
    async with running(files) as gw, client(gw) as ib:
        s, h = step(), htb()
        await ib.qualifyContractsAsync(s, h)
        seen = errors(ib)
        short = ib.placeOrder(h, MarketOrder("SELL", 100))
        await settle(ib)
        assert seen == [(short.order.orderId, 201, SHORT_TEXT)]
        assert short.orderStatus.status == "Cancelled" and short.log[-1].errorCode == 201
        # selling what the account holds is fine; selling more than that is a short sale
        long = ib.placeOrder(h, MarketOrder("BUY", 100))
        await settle(ib)
        await to(gw, ib, at(0, 2))
        assert long.orderStatus.status == "Filled"
        too_many = ib.placeOrder(h, MarketOrder("SELL", 150))
        close = ib.placeOrder(h, MarketOrder("SELL", 100))
        shortable = ib.placeOrder(s, MarketOrder("SELL", 100))
        await settle(ib)
        await to(gw, ib, at(0, 4))
        assert too_many.orderStatus.status == "Cancelled" and seen[-1][1:] == (201, SHORT_TEXT)
        assert close.orderStatus.status == shortable.orderStatus.status == "Filled"
        assert [(p.contract.symbol, p.position) for p in ib.positions()] == [("STEP", -100)]


async def test_buying_power_is_checked_even_before_the_first_tick(files: tuple[Path, Path]) -> None:
    async with running(files) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        seen = errors(ib)
        # 14:30:00, no tick of the session yet: the market's last price is the pre-market's
        # 49.00, so 100 000 shares need 0.25 x 4 900 000 = 1 225 000 of margin
        early = ib.placeOrder(c, MarketOrder("BUY", 100_000))
        await settle(ib)
        text = MARGIN_TEXT.format(equity="1000000.00", margin="1225000.00")
        assert seen == [(early.order.orderId, 201, text)]
        assert early.orderStatus.status == "Cancelled"
        state = await ib.whatIfOrderAsync(c, MarketOrder("BUY", 100))
        assert float(state.initMarginChange) == 100 * 49.0 * 0.25

        await to(gw, ib, at(0, 5))  # marked at 50.00 now: 1 250 000 of margin
        again = ib.placeOrder(c, MarketOrder("BUY", 100_000))
        fits = ib.placeOrder(c, MarketOrder("BUY", 1_000))
        await settle(ib)
        assert seen[-1] == (
            again.order.orderId,
            201,
            MARGIN_TEXT.format(equity="1000000.00", margin="1250000.00"),
        )
        await to(gw, ib, at(0, 7))
        assert fits.orderStatus.status == "Filled" and fits.orderStatus.avgFillPrice == 50.01
        # 1 000 @ 50.01 + 5.00 commission; marked at 50.00
        v = values(ib)
        assert v["TotalCashValue"] == CASH - 50_010 - 5
        assert v["NetLiquidation"] == CASH - 10 - 5
        assert v["InitMarginReq"] == 0.25 * 50_000
        assert v["BuyingPower"] == pytest.approx((CASH - 15 - 12_500) / 0.25)
        assert ACCOUNT in ib.managedAccounts()


async def test_no_margin_check_without_any_price(files: tuple[Path, Path]) -> None:
    # Thursday's pre-market: the data starts at Thursday's open, so no price exists yet
    start = OPEN - timedelta(days=1, hours=1)
    async with running(files, start=start) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        trade = ib.placeOrder(c, LimitOrder("BUY", 100_000, 10.0))
        await settle(ib)
        assert trade.orderStatus.status == "PreSubmitted"  # accepted, held until the open
        assert gw.broker.price(STEP_ID, gw.clock.now()) is None
