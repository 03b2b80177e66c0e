"""Contract details: qualifyContracts and reqContractDetails, known, unknown and ambiguous."""

from __future__ import annotations

from gateway_helpers import eurusd, flat, ramp
from ib_insync import IB, Contract, Stock


async def test_qualify_known_contracts(ib: IB) -> None:
    contracts = [flat(), ramp(), eurusd()]
    qualified = await ib.qualifyContractsAsync(*contracts)
    assert qualified == contracts  # qualified in place, in order
    f, r, e = qualified
    assert (f.conId, f.exchange, f.primaryExchange, f.localSymbol, f.tradingClass) == (
        1001,
        "SMART",
        "NASDAQ",
        "FLAT",
        "NMS",
    )
    assert r.conId == 1002
    assert (e.conId, e.secType, e.exchange, e.localSymbol) == (1003, "CASH", "IDEALPRO", "EUR.USD")


async def test_qualify_by_con_id(ib: IB) -> None:
    [c] = await ib.qualifyContractsAsync(Contract(conId=1002))
    assert (c.symbol, c.secType, c.currency) == ("RAMP", "STK", "USD")


async def test_unknown_contract_gets_error_200(ib: IB) -> None:
    errors: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: errors.append((req_id, code, text))
    unknown = Stock("NOPE", "SMART", "USD")
    qualified = await ib.qualifyContractsAsync(unknown, flat())
    assert [c.conId for c in qualified] == [1001]
    assert unknown.conId == 0
    [(_, _, text)] = [e for e in errors if e[1] == 200]
    assert text == "No security definition has been found for the request"
    assert await ib.reqContractDetailsAsync(Stock("NOPE", "SMART", "USD")) == []


async def test_contract_details_fields(ib: IB) -> None:
    [cd] = await ib.reqContractDetailsAsync(flat())
    assert cd.contract is not None and cd.contract.conId == 1001
    assert cd.longName == "FLAT PRICE INC"
    assert cd.minTick == 0.01
    assert cd.timeZoneId == "US/Eastern"
    assert cd.tradingHours.startswith("20240105:0400-20240105:2000")
    assert cd.liquidHours.startswith("20240105:0930-20240105:1600")
    assert "20240106:CLOSED" in cd.liquidHours
    assert cd.marketRuleIds and cd.validExchanges
    sessions = cd.liquidSessions()
    assert sessions[0].start.hour == 9 and sessions[0].start.minute == 30


async def test_ambiguous_symbol_returns_every_match(ib: IB) -> None:
    details = await ib.reqContractDetailsAsync(Contract(symbol="EUR"))
    assert [d.contract.conId for d in details if d.contract] == [1003]
    everything = await ib.reqContractDetailsAsync(Contract(secType="STK", symbol="FLAT"))
    assert len(everything) == 1


async def test_matching_symbols(ib: IB) -> None:
    found = await ib.reqMatchingSymbolsAsync("RA")
    assert found is not None
    assert [d.contract.symbol for d in found if d.contract] == ["RAMP"]
