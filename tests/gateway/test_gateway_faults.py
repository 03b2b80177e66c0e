"""Faults, pacing and the scanner wired into the running gateway, seen through ib_insync."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from gateway_helpers import client, flat, make_config, ramp, settle
from ib_insync import IB, LimitOrder, MarketOrder, ScannerSubscription
from support.waiting import wait_until

from bot.gateway.pacing_rules import PacingLimits
from bot.gateway.server import Gateway


def _codes(ib: IB) -> list[int]:
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    return codes


async def test_connectivity_lost_then_kept(gateway: Gateway, ib: IB) -> None:
    codes = _codes(ib)
    ticker = ib.reqMktData(flat())
    await gateway.advance(timedelta(seconds=5))  # into today's session
    await settle(ib)
    gateway.fault("connectivity_lost")
    volume = ticker.volume
    await gateway.advance(timedelta(seconds=30))
    await settle(ib)
    assert codes == [1100] and ticker.volume == volume  # no data while lost
    gateway.fault("connectivity_restored", data="kept")
    await settle(ib)
    await settle(ib)  # ib_insync re-requests the account summary on 1102: answered
    assert codes == [1100, 1102]
    assert any(v.tag == "NetLiquidation" for v in ib.wrapper.acctSummary.values())
    await gateway.advance(timedelta(seconds=30))
    await settle(ib)
    assert ticker.volume > volume  # the subscription survived


async def test_connectivity_restored_with_data_lost_ends_subscriptions(
    gateway: Gateway, ib: IB
) -> None:
    codes = _codes(ib)
    ticker = ib.reqMktData(flat())
    bars = ib.reqRealTimeBars(ramp(), 5, "TRADES", False)
    await gateway.advance(timedelta(seconds=5))
    await settle(ib)
    gateway.fault("connectivity_lost")
    gateway.fault("connectivity_restored", data="lost")
    volume, n = ticker.volume, len(bars)
    await gateway.advance(timedelta(seconds=30))
    await settle(ib)
    assert codes == [1100, 1101]
    assert ticker.volume == volume and len(bars) == n  # the client has to resubscribe


async def test_farm_notices(gateway: Gateway, ib: IB) -> None:
    codes = _codes(ib)
    gateway.fault("farm_broken")
    gateway.fault("farm_broken", farm="hmds")
    gateway.fault("farm_ok")
    gateway.fault("farm_ok", farm="hmds")
    await settle(ib)
    assert codes == [2103, 2105, 2104, 2106]


async def test_disconnect_all(gateway: Gateway) -> None:
    async with client(gateway, 1) as a, client(gateway, 2) as b:
        gone: list[int] = []
        a.disconnectedEvent += lambda: gone.append(1)
        b.disconnectedEvent += lambda: gone.append(2)
        gateway.fault("disconnect_all")
        await wait_until(lambda: len(gone) == 2, what="both clients told")
        assert sorted(gone) == [1, 2] and not a.isConnected()
    async with client(gateway, 1) as again:
        assert again.isConnected()


async def test_restart_refuses_connections_and_can_lose_orders(gateway: Gateway) -> None:
    async with client(gateway, 4) as ib:
        trade = ib.placeOrder(flat(), LimitOrder("BUY", 10, 90.0))
        await settle(ib)
        perm_id = trade.order.permId
    gateway.fault("restart", seconds=30, keep_orders=False)
    with pytest.raises(ConnectionRefusedError):
        await IB().connectAsync("127.0.0.1", gateway.port, clientId=4, timeout=2)
    await gateway.advance(timedelta(seconds=30))  # the restart is over: same port again
    async with client(gateway, 4) as ib:
        assert ib.openTrades() == []
        [done] = [t for t in await ib.reqCompletedOrdersAsync(False) if t.order.permId == perm_id]
        assert done.orderStatus.status == "Cancelled"


async def test_restart_keeps_orders(gateway: Gateway) -> None:
    async with client(gateway, 4) as ib:
        ib.placeOrder(flat(), LimitOrder("BUY", 10, 90.0))
        await settle(ib)
    gateway.fault("restart", seconds=5)
    await gateway.advance(timedelta(seconds=5))
    async with client(gateway, 4) as ib:
        assert [t.order.lmtPrice for t in ib.openTrades()] == [90.0]


async def test_rejects_delays_and_stale_ids(gateway: Gateway, ib: IB) -> None:
    codes = _codes(ib)
    gateway.fault("reject_orders", count=1, symbol="FLAT", text="No trading permissions")
    rejected = ib.placeOrder(flat(), MarketOrder("BUY", 10))
    await settle(ib)
    assert rejected.orderStatus.status == "Cancelled" and codes == [201]
    assert "No trading permissions" in rejected.log[-1].message
    gateway.fault("delay_acks", seconds=10)
    held = ib.placeOrder(flat(), LimitOrder("BUY", 10, 90.0))
    await settle(ib)
    await gateway.advance(timedelta(seconds=5))
    await settle(ib)
    assert held.orderStatus.status == "PendingSubmit"  # no acknowledgement yet
    await gateway.advance(timedelta(seconds=5))
    await settle(ib)
    assert held.orderStatus.status == "Submitted"


async def test_stale_next_valid_id(gateway: Gateway) -> None:
    async with client(gateway, 9) as ib:
        trade = ib.placeOrder(flat(), MarketOrder("BUY", 10))
        await settle(ib)
        await gateway.advance(timedelta(seconds=5))
        await settle(ib)
        used = trade.order.orderId
        assert trade.orderStatus.status == "Filled"
    gateway.fault("rollback_next_id", by=3)
    async with client(gateway, 9) as ib:
        # nextValidId came 3 lower; ib_insync took 2 ids for its start-up requests, so its
        # next order reuses the filled order's id
        codes = _codes(ib)
        stale = ib.placeOrder(flat(), MarketOrder("BUY", 10))
        await settle(ib)
        assert stale.order.orderId == used
        assert codes in ([103], [104]) and stale.orderStatus.status == "Cancelled"
    async with client(gateway, 9) as ib:
        assert ib.client.getReqId() == used + 3  # the rollback is used up


async def test_fault_plan_fires_at_simulated_times(
    market_files: tuple[Path, Path], tmp_path: Path
) -> None:
    plan = tmp_path / "faults.yaml"
    plan.write_text(
        "steps:\n"
        "  - {after: 10s, do: connectivity_lost}\n"
        "  - {after: 20s, do: connectivity_restored, data: kept}\n"
    )
    gw = Gateway(*make_config(market_files, faults=plan))
    await gw.start()
    try:
        async with client(gw) as ib:
            codes = _codes(ib)
            await gw.advance(timedelta(seconds=9))
            await settle(ib)
            assert codes == []
            await gw.advance(timedelta(seconds=2))
            await settle(ib)
            assert codes == [1100]
            await gw.advance(timedelta(seconds=10))
            await settle(ib)
            assert codes[:2] == [1100, 1102]
    finally:
        await gw.stop()


async def test_historical_pacing(gateway: Gateway, ib: IB) -> None:
    now = [1000.0]
    gateway.wall = lambda: now[0]
    codes = _codes(ib)
    c = ramp()
    await ib.qualifyContractsAsync(c)
    first = await ib.reqHistoricalDataAsync(c, "", "1 D", "1 min", "TRADES", True)
    again = await ib.reqHistoricalDataAsync(c, "", "1 D", "1 min", "TRADES", True)
    assert len(first) == 390 and list(again) == [] and codes == [162]
    now[0] += 15
    assert len(await ib.reqHistoricalDataAsync(c, "", "1 D", "1 min", "TRADES", True)) == 390


async def test_message_rate(market_files: tuple[Path, Path]) -> None:
    gw = Gateway(*make_config(market_files, pacing=PacingLimits(enabled=False)))
    await gw.start()
    try:
        async with client(gw) as ib:
            codes = _codes(ib)
            ib.client.MaxRequests = 0  # no client-side throttling
            for _ in range(60):
                ib.client.reqPositions()
            await settle(ib)
            assert codes == [100]
    finally:
        await gw.stop()


async def test_scanner(gateway: Gateway, ib: IB) -> None:
    xml = await ib.reqScannerParametersAsync()
    assert "TOP_PERC_GAIN" in xml and "STK.US.MAJOR" in xml
    await gateway.advance(timedelta(minutes=31))  # FLAT 101 (prev close 100), RAMP ~200.3
    sub = ScannerSubscription(instrument="STK", locationCode="STK.US.MAJOR")
    sub.scanCode = "TOP_PERC_GAIN"
    gainers = await ib.reqScannerDataAsync(sub)
    assert [d.contractDetails.contract.symbol for d in gainers] == ["FLAT"]
    sub.scanCode = "TOP_PERC_LOSE"
    losers = await ib.reqScannerDataAsync(sub)
    assert [d.contractDetails.contract.symbol for d in losers] == ["RAMP"]
    sub.scanCode = "MOST_ACTIVE"
    live = ib.reqScannerSubscription(sub)
    await settle(ib)
    assert {d.contractDetails.contract.symbol for d in live} == {"FLAT", "RAMP"}
    updates: list[int] = []
    live.updateEvent += lambda data: updates.append(len(data))
    await gateway.advance(timedelta(seconds=30))
    await settle(ib)
    assert updates == [2]
    ib.cancelScannerSubscription(live)
    sub.scanCode = "NOPE"
    codes = _codes(ib)
    assert list(await ib.reqScannerDataAsync(sub)) == []
    assert 162 in codes
