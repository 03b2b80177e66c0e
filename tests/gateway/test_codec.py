"""The codec against ib_insync's own code, without sockets.

Inbound: what ``ib_insync.Client`` writes for a request, parsed by ``bot.gateway.inbound`` and
written again by the Client from the parsed objects, must give the very same fields (so every
field was read at its position, at every supported server version). Outbound: what
``bot.gateway.outbound`` writes, read by ``ib_insync.Decoder`` at the same version, must reach
the wrapper with the values written.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest
from gateway_helpers import sent
from hypothesis import given, settings
from hypothesis import strategies as st
from ib_insync import (
    ComboLeg,
    CommissionReport,
    Contract,
    ContractDetails,
    Execution,
    ExecutionFilter,
    Order,
    OrderState,
    TagValue,
)
from ib_insync.client import Client
from ib_insync.contract import DeltaNeutralContract
from ib_insync.decoder import Decoder
from ib_insync.order import PriceCondition, TimeCondition, VolumeCondition
from ib_insync.util import UNSET_DOUBLE, UNSET_INTEGER

from bot.gateway import inbound
from bot.gateway import outbound as out

VERSIONS = [157, 158, 160, 162, 163, 164, 166, 169, 170, 173, 176]


class Recorder:
    """A wrapper stand-in: records every call the Decoder makes."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple[Any, ...]]] = []

    def __getattr__(self, name: str) -> Callable[..., None]:
        return lambda *args: self.calls.append((name, args))


def decode(version: int, fields: list[str]) -> list[tuple[str, tuple[Any, ...]]]:
    rec = Recorder()
    decoder = Decoder(rec, version)  # type: ignore[arg-type]
    # Decoder.interpret logs and swallows exceptions; call the handler to see them
    decoder.handlers[int(fields[0])](list(fields))
    return rec.calls


# ---- inbound ----------------------------------------------------------------------------

_text = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\0"), max_size=8)
_price = st.one_of(
    st.just(UNSET_DOUBLE), st.floats(0.01, 1e5, allow_nan=False).map(lambda x: round(x, 2))
)
_int = st.one_of(st.just(UNSET_INTEGER), st.integers(0, 10**6))


@st.composite
def orders(draw: st.DrawFn) -> tuple[Contract, Order]:
    o = Order(
        action=draw(st.sampled_from(["BUY", "SELL"])),
        totalQuantity=float(draw(st.integers(1, 10**6))),
        orderType=draw(
            st.sampled_from(
                ["MKT", "LMT", "STP", "STP LMT", "TRAIL", "PEG BENCH", "PEG BEST", "PEG MID", "MOC"]
            )
        ),
        lmtPrice=draw(_price),
        auxPrice=draw(_price),
        tif=draw(st.sampled_from(["", "DAY", "GTC"])),
        ocaGroup=draw(_text),
        ocaType=draw(st.integers(0, 3)),
        orderRef=draw(_text),
        transmit=draw(st.booleans()),
        parentId=draw(st.integers(0, 1000)),
        outsideRth=draw(st.booleans()),
        hidden=draw(st.booleans()),
        account=draw(_text),
        goodTillDate=draw(_text),
        minQty=draw(_int),
        trailStopPrice=draw(_price),
        trailingPercent=draw(_price),
        cashQty=draw(_price),
        volatility=draw(_price),
        deltaNeutralOrderType=draw(st.sampled_from(["", "LMT"])),
        scalePriceIncrement=draw(st.sampled_from([UNSET_DOUBLE, 0.05])),
        hedgeType=draw(st.sampled_from(["", "D"])),
        hedgeParam=draw(_text),
        algoStrategy=draw(st.sampled_from(["", "Adaptive"])),
        whatIf=draw(st.booleans()),
        duration=draw(_int),
        postToAts=draw(_int),
        manualOrderTime=draw(_text),
        advancedErrorOverride=draw(_text),
        competeAgainstBestOffset=draw(st.sampled_from([UNSET_DOUBLE, math.inf, 0.02])),
        midOffsetAtWhole=draw(_price),
        minTradeQty=draw(_int),
    )
    if o.algoStrategy:
        o.algoParams = [TagValue("adaptivePriority", draw(_text))]
    o.conditions = draw(
        st.lists(
            st.sampled_from(
                [
                    PriceCondition(price=101.5, conId=1001, exch="SMART", isMore=False),
                    TimeCondition(time="20240105 10:00:00 US/Eastern", conjunction="o"),
                    VolumeCondition(volume=5000, conId=1002, exch="SMART"),
                ]
            ),
            max_size=3,
        )
    )
    if o.conditions:
        o.conditionsCancelOrder = draw(st.booleans())
    c = Contract(
        conId=draw(st.integers(0, 10**9)),
        symbol=draw(_text),
        secType=draw(st.sampled_from(["STK", "CASH", "BAG", "OPT"])),
        exchange=draw(st.sampled_from(["SMART", "IBKRATS", ""])),
        currency="USD",
        strike=draw(st.sampled_from([0.0, 150.5])),
    )
    if c.secType == "BAG":
        c.comboLegs = [ComboLeg(conId=1001, ratio=1, action="BUY", exchange="SMART")] * draw(
            st.integers(0, 3)
        )
        o.smartComboRoutingParams = [TagValue("NonGuaranteed", "1")]
    if draw(st.booleans()):
        c.deltaNeutralContract = DeltaNeutralContract(1001, 0.5, 100.25)
    return c, o


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(VERSIONS), orders(), st.integers(1, 10**6))
def test_place_order_round_trip(version: int, co: tuple[Contract, Order], order_id: int) -> None:
    contract, order = co
    [fields] = sent(version, lambda c: c.placeOrder(order_id, contract, order))
    req = inbound.parse(fields, version)
    assert isinstance(req, inbound.PlaceOrder) and req.order_id == order_id
    [again] = sent(version, lambda c: c.placeOrder(req.order_id, req.contract, req.order))
    assert again == fields


def _requests(c: Client, contract: Contract) -> None:
    c.reqMktData(1, contract, "233", False, False, [])
    c.reqHistoricalData(
        2, contract, "20240105 10:00:00 UTC", "2 D", "5 mins", "MIDPOINT", True, 2, False, []
    )
    c.reqHistoricalData(3, contract, "", "1 D", "1 min", "TRADES", False, 1, True, [])
    c.reqContractDetails(4, contract)
    c.reqRealTimeBars(5, contract, 5, "TRADES", True, [])
    c.reqTickByTickData(6, contract, "BidAsk", 0, False)
    c.reqHeadTimeStamp(7, contract, "TRADES", True, 2)
    c.reqExecutions(
        8,
        ExecutionFilter(
            clientId=3,
            acctCode="DU1",
            time="20240105 09:00:00",
            symbol="FLAT",
            secType="STK",
            exchange="SMART",
            side="SELL",
        ),
    )
    c.reqPnLSingle(9, "DU1", "", 1001)
    c.reqAccountSummary(10, "All", "NetLiquidation,$LEDGER:ALL")
    c.cancelOrder(11, "20240105 10:00:00")
    c.reqAccountUpdatesMulti(12, "DU1", "", False)
    c.reqCompletedOrders(True)
    c.startApi()


@pytest.mark.parametrize("version", VERSIONS)
def test_other_requests(version: int) -> None:
    contract = Contract(
        conId=1001,
        symbol="FLAT",
        secType="STK",
        exchange="SMART",
        primaryExchange="NASDAQ",
        currency="USD",
    )
    reqs = [inbound.parse(f, version) for f in sent(version, lambda c: _requests(c, contract))]
    mkt, hist, live, details, rtb, tbt, head, ex, pnl, summary, cancel, multi, done, start = reqs
    assert isinstance(mkt, inbound.ReqMktData) and mkt.contract == contract
    assert (mkt.req_id, mkt.generic_ticks, mkt.snapshot) == (1, "233", False)
    assert isinstance(hist, inbound.ReqHistoricalData)
    assert (hist.end, hist.duration, hist.bar_size, hist.what_to_show) == (
        "20240105 10:00:00 UTC",
        "2 D",
        "5 mins",
        "MIDPOINT",
    )
    assert (hist.use_rth, hist.format_date, hist.keep_up_to_date) == (True, 2, False)
    assert isinstance(live, inbound.ReqHistoricalData) and live.keep_up_to_date
    assert isinstance(details, inbound.ReqContractDetails) and details.contract.conId == 1001
    assert isinstance(rtb, inbound.ReqRealTimeBars) and (rtb.bar_size, rtb.use_rth) == (5, True)
    assert isinstance(tbt, inbound.ReqTickByTickData) and tbt.tick_type == "BidAsk"
    assert isinstance(head, inbound.ReqHeadTimeStamp) and head.format_date == 2
    assert isinstance(ex, inbound.ReqExecutions)
    assert (ex.filter.clientId, ex.filter.symbol, ex.filter.side) == (3, "FLAT", "SELL")
    assert isinstance(pnl, inbound.ReqPnLSingle) and pnl.con_id == 1001
    assert isinstance(summary, inbound.ReqAccountSummary) and "$LEDGER" in summary.tags
    assert isinstance(cancel, inbound.CancelOrder) and cancel.order_id == 11
    assert cancel.manual_time == ("20240105 10:00:00" if version >= 169 else "")
    assert isinstance(multi, inbound.ReqAccountUpdatesMulti) and multi.account == "DU1"
    assert isinstance(done, inbound.ReqCompletedOrders) and done.api_only
    assert isinstance(start, inbound.StartApi) and start.client_id == -1


def test_unknown_and_malformed() -> None:
    with pytest.raises(inbound.UnknownMessage):
        inbound.parse(["12345"], 176)
    with pytest.raises(inbound.UnknownMessage):
        inbound.parse(["x"], 176)
    with pytest.raises(inbound.MalformedRequest) as e:
        inbound.parse(["20", "7", "1001"], 176)
    assert e.value.req_id == 7
    with pytest.raises(inbound.MalformedRequest):
        inbound.parse(
            ["1", "11", "3", "0", "", "BAG", "", "0", "", "", "", "", "", "", "", "999999999999"],
            176,
        )


# ---- outbound ---------------------------------------------------------------------------


@settings(max_examples=150, deadline=None)
@given(st.sampled_from(VERSIONS), orders(), st.integers(1, 10**6))
def test_open_and_completed_order_decode(
    version: int, co: tuple[Contract, Order], oid: int
) -> None:
    contract, order = co
    order.orderId, order.clientId, order.permId = oid, 7, 1_000_001
    state = OrderState(status="Submitted", commission=1.25, commissionCurrency="USD")
    fields = out.open_order(contract, order, state, version)
    [(name, (order_id, c, o, st_))] = decode(version, fields)
    assert (name, order_id, o.clientId, o.permId, st_.status) == (
        "openOrder",
        oid,
        7,
        1_000_001,
        "Submitted",
    )
    assert out.open_order(c, o, st_, version) == fields  # every field read where written
    state.completedTime, state.completedStatus = "20240105 14:30:00 UTC", "Filled"
    fields = out.completed_order(contract, order, state, version)
    [(name, (c, o, st_))] = decode(version, fields)
    assert name == "completedOrder" and st_.completedStatus == "Filled"
    assert out.completed_order(c, o, st_, version) == fields


@pytest.mark.parametrize("version", VERSIONS)
def test_contract_details_decode(version: int) -> None:
    c = Contract(
        conId=1001,
        symbol="FLAT",
        secType="STK",
        exchange="SMART",
        primaryExchange="NASDAQ",
        currency="USD",
        localSymbol="FLAT",
        tradingClass="NMS",
    )
    cd = ContractDetails(
        contract=c,
        marketName="NMS",
        minTick=0.01,
        longName="FLAT PRICE INC",
        timeZoneId="US/Eastern",
        tradingHours="20240105:0400-20240105:2000",
        liquidHours="20240105:0930-20240105:1600",
        marketRuleIds="26,26",
        stockType="COMMON",
        minSize=1.0,
        sizeIncrement=1.0,
        suggestedSizeIncrement=100.0,
    )
    [(name, (req_id, got))] = decode(version, out.contract_details(4, cd, version))
    assert (name, req_id) == ("contractDetails", 4)
    assert got.contract == c and got.contract.primaryExchange == "NASDAQ"
    assert (got.longName, got.minTick, got.timeZoneId, got.liquidHours) == (
        cd.longName,
        0.01,
        "US/Eastern",
        cd.liquidHours,
    )
    if version >= 164:
        assert got.suggestedSizeIncrement == 100.0
    assert decode(version, out.contract_details_end(4)) == [("contractDetailsEnd", (4,))]


@pytest.mark.parametrize("version", [157, 165, 166, 176])
def test_small_messages_decode(version: int) -> None:
    c = Contract(
        conId=1001,
        symbol="FLAT",
        secType="STK",
        exchange="NASDAQ",
        currency="USD",
        localSymbol="FLAT",
        tradingClass="NMS",
        primaryExchange="NASDAQ",
    )
    ex = Execution(
        execId="000003e9.00000001.01.01",
        acctNumber="DU1",
        exchange="NASDAQ",
        side="BOT",
        shares=100.0,
        price=100.01,
        permId=1000001,
        clientId=1,
        orderId=4,
        cumQty=100.0,
        avgPrice=100.01,
        lastLiquidity=2,
    )
    cases: list[tuple[list[str], str, tuple[Any, ...]]] = [
        (out.error(-1, 2104, "ok", version), "error", (-1, 2104, "ok", "")),
        (out.tick_price(3, 1, 100.25, 300.0), "priceSizeTick", (3, 1, 100.25, 300.0)),
        (out.tick_size(3, 8, 12345.0), "tickSize", (3, 8, 12345.0)),
        (
            out.order_status(4, "Filled", 100, 0, 100.01, 1000001, 0, 100.01, 1),
            "orderStatus",
            (4, "Filled", 100.0, 0.0, 100.01, 1000001, 0, 100.01, 1, "", 0.0),
        ),
        (out.position("DU1", c, 100.0, 100.02), "position", ("DU1", c, 100.0, 100.02)),
        (
            out.pnl_single(9, 100.0, -2.0, -2.0, 0.0, 10000.0),
            "pnlSingle",
            (9, 100, -2.0, -2.0, 0.0, 10000.0),
        ),
        (
            out.real_time_bar(5, 1704465000, 1.5, 2.0, 1.0, 1.75, 300.0, 1.6, 4),
            "realtimeBar",
            (5, 1704465000, 1.5, 2.0, 1.0, 1.75, 300.0, 1.6, 4),
        ),
        (
            out.historical_update(2, 4, "1704465000", 1.5, 1.75, 2.0, 1.0, 1.6, 300.0),
            "historicalDataUpdate",
            None,
        ),
        (
            out.tick_by_tick_bid_ask(6, 1704465000, 99.0, 99.01, 100.0, 200.0),
            "tickByTickBidAsk",
            None,
        ),
        (
            out.account_value("NetLiquidation", "999998.00", "USD", "DU1"),
            "updateAccountValue",
            ("NetLiquidation", "999998.00", "USD", "DU1"),
        ),
    ]
    if version >= 166:
        cases.append(
            (
                out.error(4, 201, "Order rejected", version, "{}"),
                "error",
                (4, 201, "Order rejected", "{}"),
            )
        )
    for fields, name, args in cases:
        [(got_name, got_args)] = decode(version, fields)
        assert got_name == name
        if args is not None:
            assert got_args == args
    [(name, (req_id, got_c, got_ex))] = decode(
        version, out.exec_details(-1, c, ex, "20240105 09:30:01 US/Eastern")
    )
    assert (name, req_id, got_c, got_ex.execId, got_ex.price, got_ex.lastLiquidity) == (
        "execDetails",
        -1,
        c,
        ex.execId,
        100.01,
        2,
    )
    assert got_ex.time.isoformat() == "2024-01-05T14:30:01+00:00"
    cr = CommissionReport(
        execId=ex.execId, commission=1.0, currency="USD", realizedPNL=UNSET_DOUBLE
    )
    [(name, (got,))] = decode(version, out.commission_report(cr))
    assert (got.commission, got.realizedPNL) == (1.0, UNSET_DOUBLE)
    port = out.portfolio_value(c, 100.0, 100.0, 10000.0, 100.02, -2.0, 0.0, "DU1")
    [(name, (got_c, *values))] = decode(version, port)
    assert name == "updatePortfolio" and values == [100.0, 100.0, 10000.0, 100.02, -2.0, 0.0, "DU1"]
