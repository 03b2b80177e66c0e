"""Every order type and time in force through the unmodified ib_insync client, on the staircase
market of order_market.py (read its table first: every number below comes from it).

Quotes are price -/+ 0.01, so a market buy pays price + 0.01 and a market sell gets
price - 0.01. IB's fixed commission: USD 0.005 a share, at least 1.00 an order, so every
100-share order below pays 1.00. A buy's average cost includes its commission:
100 @ 50.01 + 1.00 = 50.02 a share.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from gateway_helpers import client, settle
from ib_insync import (
    IB,
    Contract,
    LimitOrder,
    MarketOrder,
    Order,
    StopLimitOrder,
    StopOrder,
    Trade,
)
from order_market import (
    CLOSE,
    MON,
    PRE,
    at,
    fills,
    path,
    running,
    step,
    to,
)


async def place(ib: IB, contract: Contract, *orders: Order) -> list[Trade]:
    trades = [ib.placeOrder(contract, o) for o in orders]
    await settle(ib)
    return trades


def trail(
    action: str, qty: float, amount: float = 0.0, percent: float = 0.0, stop: float = 0.0
) -> Order:
    o = Order(action=action, orderType="TRAIL", totalQuantity=qty)
    if amount:
        o.auxPrice = amount
    if percent:
        o.trailingPercent = percent
    if stop:
        o.trailStopPrice = stop
    return o


def typed(kind: str, action: str, qty: float, **kw: Any) -> Order:
    return Order(action=action, orderType=kind, totalQuantity=qty, **kw)


# ---- LMT -----------------------------------------------------------------------------------


async def test_limit_marketable_on_arrival_resting_and_gapped_through(
    files: tuple[Path, Path],
) -> None:
    async with running(files) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        # 50.00 (ask 50.01): a buy limit at 50.40 is marketable and fills at the ask, not 50.40
        buy, sell = await place(
            ib, c, LimitOrder("BUY", 100, 50.40), LimitOrder("SELL", 100, 50.90)
        )
        await to(gw, ib, at(0, 5))
        assert fills(buy) == [(100, 50.01)] and buy.orderStatus.avgFillPrice == 50.01
        assert buy.fills[0].commissionReport.commission == 1.0
        assert path(buy) == ["PendingSubmit", "Submitted", "Filled"]
        # 50.50 for minutes 10-19 never reaches the sell limit at 50.90: it rests
        await to(gw, ib, at(20))
        assert sell.orderStatus.status == "Submitted" and sell.fills == []
        # the first tick at 51.00 trades through: filled at the limit, not at 51.00 or 50.99
        await to(gw, ib, at(20, 2))
        assert fills(sell) == [(100, 50.90)] and sell.orderStatus.status == "Filled"
        assert path(sell) == ["PendingSubmit", "Submitted", "Filled"]
        # realized: (50.90 - 50.02) x 100 - 1.00 commission
        assert sell.fills[0].commissionReport.realizedPNL == pytest.approx(87.0)
        assert ib.positions() == []
        # a resting buy at 49.60 when 50.60 gaps down to 49.00: filled at its limit
        [gap] = await place(ib, c, LimitOrder("BUY", 100, 49.60))
        await to(gw, ib, at(50))
        assert gap.orderStatus.status == "Submitted"
        await to(gw, ib, at(50, 2))
        assert fills(gap) == [(100, 49.60)]
        [pos] = ib.positions()
        assert (pos.position, pos.avgCost) == (100, pytest.approx(49.61))


# ---- STP, STP LMT, MIT -----------------------------------------------------------------------


async def test_stop_triggers_on_the_trade_and_a_gap_fills_at_the_gap(
    files: tuple[Path, Path],
) -> None:
    async with running(files) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        up, down = await place(ib, c, StopOrder("BUY", 100, 50.90), StopOrder("SELL", 100, 49.80))
        await to(gw, ib, at(20))  # 50.50 at most: neither triggered
        assert up.orderStatus.status == down.orderStatus.status == "PreSubmitted"
        await to(gw, ib, at(20, 2))  # 51.00 >= 50.90: a market buy at the ask
        assert fills(up) == [(100, 51.01)] and up.orderStatus.status == "Filled"
        assert path(up) == ["PendingSubmit", "PreSubmitted", "Filled"]
        await to(gw, ib, at(50))  # 50.60 > 49.80: still waiting
        assert down.orderStatus.status == "PreSubmitted"
        await to(gw, ib, at(50, 2))  # gap 50.60 -> 49.00: fills at 48.99, not at the 49.80 stop
        assert fills(down) == [(100, 48.99)] and down.orderStatus.avgFillPrice == 48.99
        # (48.99 - 51.02) x 100 - 1.00
        assert down.fills[0].commissionReport.realizedPNL == pytest.approx(-204.0)


async def test_stop_limit(files: tuple[Path, Path]) -> None:
    async with running(files) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        up, down = await place(
            ib,
            c,
            StopLimitOrder("BUY", 100, 51.05, 50.90),
            StopLimitOrder("SELL", 100, 49.40, 49.80),
        )
        await to(gw, ib, at(20, 2))  # triggered at 51.00; ask 51.01 <= 51.05: marketable
        assert fills(up) == [(100, 51.01)]
        await to(gw, ib, at(50, 2))  # triggered at 49.00, but bid 48.99 < 49.40: rests
        assert down.fills == [] and down.orderStatus.status == "Submitted"
        await to(gw, ib, at(60))  # 49.00 for the whole minute: never above 49.40
        assert down.fills == []
        await to(gw, ib, at(60, 2))  # 49.50 trades through the limit: filled at 49.40
        assert fills(down) == [(100, 49.40)]
        assert path(down) == ["PendingSubmit", "PreSubmitted", "Submitted", "Filled"]


async def test_market_if_touched(files: tuple[Path, Path]) -> None:
    async with running(files) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        sell, buy = await place(
            ib,
            c,
            typed("MIT", "SELL", 100, auxPrice=50.90),
            typed("MIT", "BUY", 100, auxPrice=49.50),
        )
        await to(gw, ib, at(20))
        assert sell.orderStatus.status == buy.orderStatus.status == "PreSubmitted"
        await to(gw, ib, at(20, 2))  # 51.00 >= 50.90: a market sell at the bid
        assert fills(sell) == [(100, 50.99)]
        await to(gw, ib, at(50, 2))  # 49.00 <= 49.50: a market buy at the ask
        assert fills(buy) == [(100, 49.01)]
        assert path(buy) == ["PendingSubmit", "PreSubmitted", "Filled"]


# ---- TRAIL ---------------------------------------------------------------------------------


async def test_trailing_stops_ratchet_and_never_loosen(files: tuple[Path, Path]) -> None:
    """Stops after each level (as another client's reqAllOpenOrders shows them):

    level              50.00  50.50  51.00  50.80  50.60            49.00
    0.30               49.70  50.20  50.70  50.70  fill 50.59
    2 %                49.00  49.49  49.98  49.98  49.98            fill 48.99 (gap)
    0.30 from 49.90    49.90  50.20  50.70  50.70  fill 50.59
    """
    async with running(files) as gw, client(gw, 1) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        amount, percent, given = await place(
            ib,
            c,
            trail("SELL", 100, amount=0.30),
            trail("SELL", 100, percent=2.0),
            trail("SELL", 100, amount=0.30, stop=49.90),
        )

        async def stops() -> list[float]:
            # a fresh client each time: ib_insync keeps the first openOrder of a known order
            async with client(gw, 2) as other:
                by_id = {t.order.orderId: t for t in await other.reqAllOpenOrdersAsync()}
            return [
                by_id[t.order.orderId].order.trailStopPrice
                for t in (amount, percent, given)
                if t.order.orderId in by_id
            ]

        await to(gw, ib, at(0, 5))
        assert await stops() == [49.70, 49.00, 49.90]
        await to(gw, ib, at(10, 5))
        assert await stops() == [50.20, 49.49, 50.20]
        await to(gw, ib, at(20, 5))
        assert await stops() == [50.70, 49.98, 50.70]
        await to(gw, ib, at(40))  # 50.80: the stops stay where 51.00 put them
        assert await stops() == [50.70, 49.98, 50.70]
        assert {t.orderStatus.status for t in (amount, percent, given)} == {"PreSubmitted"}
        await to(gw, ib, at(40, 2))  # 50.60 <= 50.70: both 0.30 trails sell at the bid
        assert fills(amount) == fills(given) == [(100, 50.59)]
        assert await stops() == [49.98]
        await to(gw, ib, at(50, 2))  # the gap: 49.00 <= 49.98, filled at 48.99
        assert fills(percent) == [(100, 48.99)]
        assert path(percent) == ["PendingSubmit", "PreSubmitted", "Filled"]


async def test_buy_trailing_percent_triggers_on_a_rise(files: tuple[Path, Path]) -> None:
    async with running(files, start=at(55)) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        [buy] = await place(ib, c, trail("BUY", 100, percent=1.0))  # 49.00 x 1.01: 49.49
        await to(gw, ib, at(60))
        assert buy.orderStatus.status == "PreSubmitted"
        await to(gw, ib, at(60, 2))  # 49.50 >= 49.49: a market buy at 49.51
        assert fills(buy) == [(100, 49.51)]


# ---- MOC, LOC, DAY, GTC ----------------------------------------------------------------------


async def test_on_close_orders_and_day_expiry_gtc_survives(files: tuple[Path, Path]) -> None:
    async with running(files, start=at(370)) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        moc, loc_ok, loc_no, day, gtc, gtc_sell = await place(
            ib,
            c,
            typed("MOC", "BUY", 100),
            typed("LOC", "SELL", 100, lmtPrice=51.90),
            typed("LOC", "BUY", 100, lmtPrice=51.00),
            LimitOrder("BUY", 100, 40.00),
            LimitOrder("BUY", 100, 40.00, tif="GTC"),
            LimitOrder("SELL", 100, 52.90, tif="GTC"),
        )
        await to(
            gw, ib, CLOSE - timedelta(seconds=2)
        )  # 52.00 since 15:50: nothing at the close yet
        assert [t.orderStatus.status for t in (moc, loc_ok, loc_no, day)] == ["Submitted"] * 4
        await to(gw, ib, CLOSE)  # the closing print, 52.00
        assert fills(moc) == [(100, 52.00)] and fills(loc_ok) == [(100, 52.00)]
        assert loc_no.orderStatus.status == "Cancelled" and loc_no.fills == []  # 52.00 > 51.00
        assert day.orderStatus.status == "Cancelled"  # a DAY order ends with the session
        assert path(day) == ["PendingSubmit", "Submitted", "Cancelled"]
        assert gtc.orderStatus.status == gtc_sell.orderStatus.status == "Submitted"
        await to(gw, ib, MON + timedelta(seconds=2))  # Monday trades 53.00: through 52.90
        assert gtc.orderStatus.status == "Submitted"
        assert fills(gtc_sell) == [(100, 52.90)]
        assert {t.order.orderId for t in ib.openTrades()} == {gtc.order.orderId}


async def test_close_orders_must_be_day_orders(files: tuple[Path, Path]) -> None:
    async with running(files) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        errors: list[tuple[int, str]] = []
        ib.errorEvent += lambda req_id, code, text, contract: errors.append((code, text))
        [bad] = await place(ib, c, typed("MOC", "BUY", 100, tif="GTC"))
        assert errors == [(113, "The Tif option should be set to DAY for MOC and LOC orders.")]
        assert bad.orderStatus.status == "Cancelled"


# ---- IOC, FOK ------------------------------------------------------------------------------


async def test_ioc_and_fok(files: tuple[Path, Path]) -> None:
    async with running(files) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        ioc_miss, ioc_hit, fok = await place(
            ib,
            c,
            LimitOrder("BUY", 100, 49.00, tif="IOC"),  # ask 50.01: nothing, cancelled at once
            LimitOrder("BUY", 100, 50.40, tif="IOC"),
            LimitOrder("SELL", 100, 49.90, tif="FOK"),  # bid 49.99 >= 49.90: all of it
        )
        await to(gw, ib, at(0, 5))
        assert ioc_miss.orderStatus.status == "Cancelled" and ioc_miss.fills == []
        assert path(ioc_miss) == ["PendingSubmit", "Submitted", "Cancelled"]
        assert fills(ioc_hit) == [(100, 50.01)] and fills(fok) == [(100, 49.99)]


# ---- outsideRth ----------------------------------------------------------------------------


async def test_outside_rth_is_honoured_against_liquid_hours(files: tuple[Path, Path]) -> None:
    async with running(files, start=PRE) as gw, client(gw) as ib:  # 08:00 New York, 49.00
        c = step()
        await ib.qualifyContractsAsync(c)
        held, early, rests = await place(
            ib,
            c,
            MarketOrder("BUY", 100),
            LimitOrder("BUY", 100, 49.10, outsideRth=True),
            LimitOrder("BUY", 100, 49.10),
        )
        await to(gw, ib, PRE + timedelta(minutes=1))
        assert held.orderStatus.status == rests.orderStatus.status == "PreSubmitted"
        assert held.fills == [] and rests.fills == []
        assert fills(early) == [(100, 49.01)]  # flagged: trades in the pre-market
        await to(gw, ib, at(0))  # 09:30: nothing before the open
        assert held.fills == []
        await to(gw, ib, at(0, 2))  # the first regular tick: 50.00, ask 50.01
        assert fills(held) == [(100, 50.01)]
        assert path(held) == ["PendingSubmit", "PreSubmitted", "Filled"]
        assert rests.orderStatus.status == "Submitted" and rests.fills == []  # 49.10 < 50.01


# ---- MKT with slippage ---------------------------------------------------------------------


async def test_market_orders_pay_the_configured_slippage(files: tuple[Path, Path]) -> None:
    async with running(files, slippage_ticks=2) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        buy, sell = await place(ib, c, MarketOrder("BUY", 100), MarketOrder("SELL", 100))
        await to(gw, ib, at(0, 2))
        assert fills(buy) == [(100, 50.03)]  # ask 50.01 + 2 ticks
        assert fills(sell) == [(100, 49.97)]  # bid 49.99 - 2 ticks
        # a marketable limit never pays beyond its limit
        [capped] = await place(ib, c, LimitOrder("BUY", 100, 50.02))
        await to(gw, ib, at(0, 4))
        assert fills(capped) == [(100, 50.02)]
