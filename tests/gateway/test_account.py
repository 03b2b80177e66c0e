"""Account requests: account summary (and the 1102 re-request), updates, multi, PnL errors."""

from __future__ import annotations

from datetime import timedelta

from gateway_helpers import flat, settle
from ib_insync import IB, MarketOrder

from bot.gateway.server import Gateway


async def test_account_summary(ib: IB) -> None:
    await ib.reqAccountSummaryAsync()
    summary = {(v.tag, v.currency): v.value for v in ib.wrapper.acctSummary.values()}
    assert summary[("NetLiquidation", "USD")] == "1000000.00"
    assert summary[("AvailableFunds", "USD")] == "1000000.00"
    assert summary[("BuyingPower", "USD")] == "4000000.00"
    assert summary[("AccountType", "")] == "INDIVIDUAL"
    assert summary[("CashBalance", "BASE")] == "1000000.00"  # from $LEDGER:ALL


async def test_1102_makes_ib_insync_ask_for_the_summary_and_it_is_answered(
    gateway: Gateway, ib: IB
) -> None:
    assert not ib.wrapper.acctSummary
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    gateway.broadcast_error(
        1102, "Connectivity between IB and Trader Workstation has been restored - data maintained."
    )
    await settle(ib)  # the 1102 is in; ib_insync has sent reqAccountSummary
    await settle(ib)  # ... and it has been answered
    assert codes == [1102]
    assert any(v.tag == "NetLiquidation" for v in ib.wrapper.acctSummary.values())


async def test_account_values_stream_after_a_fill(gateway: Gateway, ib: IB) -> None:
    c = flat()
    await ib.qualifyContractsAsync(c)
    seen: list[str] = []
    ib.accountValueEvent += lambda v: seen.append(v.tag)
    ib.placeOrder(c, MarketOrder("BUY", 100))
    await settle(ib)
    await gateway.advance(timedelta(seconds=5))
    await settle(ib)
    assert {"NetLiquidation", "TotalCashValue", "GrossPositionValue"} <= set(seen)
    multi = {v.tag: v.value for v in ib.accountValues() if v.currency == "USD"}
    assert multi["GrossPositionValue"] == "10000.00"
    # periodic refresh every three simulated minutes revalues the portfolio
    await gateway.advance(timedelta(minutes=31))
    await settle(ib)
    [item] = ib.portfolio()
    assert item.marketPrice == 101.0 and abs(item.unrealizedPNL - 98.0) < 1e-9


async def test_unknown_account_is_refused(ib: IB) -> None:
    codes: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
    ib.reqPnL("DU0000000")
    await settle(ib)
    assert codes == [321]
