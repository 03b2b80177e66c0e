"""Server messages: one function per TWS message, each returning the fields to frame.

Each encoder mirrors the ib_insync ``Decoder`` handler that will read it (``decoder.py`` is
the authority), field by field and version-gated the same way. Numbers are written so that the
decoder's conversions accept them: int-typed fields as integers ("100", never "100.0"), unset
doubles/ints (``UNSET_DOUBLE``/``UNSET_INTEGER``) as empty strings, which ib_insync reads back
as the unset default.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Any

from ib_insync import (
    CommissionReport,
    Contract,
    ContractDetails,
    Execution,
    Order,
    OrderState,
)
from ib_insync.util import UNSET_DOUBLE, UNSET_INTEGER

Fields = list[str]


def fmt(value: Any) -> str:
    """Generic field formatting (bool before int: bool is an int subclass)."""
    if value is None:
        return ""
    if value is True:
        return "1"
    if value is False:
        return "0"
    if isinstance(value, int):
        return "" if value == UNSET_INTEGER else str(value)
    if isinstance(value, float):
        if value == UNSET_DOUBLE:
            return ""
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return repr(value)
    return str(value)


def num(x: float) -> str:
    """A price-like float; integral values without the ".0" (IB writes them that way)."""
    if type(x) is int:
        return str(x)
    if x == UNSET_DOUBLE:
        return ""
    if x.is_integer() and abs(x) < 1e15:
        return str(int(x))
    return repr(x)


def integer(x: float) -> str:
    """For fields ib_insync parses with int(): round a float quantity to a whole number."""
    return str(round(x))


# ---- connection and housekeeping ---------------------------------------------------------


def managed_accounts(accounts: Sequence[str]) -> Fields:
    return ["15", "1", ",".join(accounts)]


def next_valid_id(order_id: int) -> Fields:
    return ["9", "1", str(order_id)]


def error(req_id: int, code: int, text: str, version: int, advanced: str = "") -> Fields:
    fields = ["4", "2", str(req_id), str(code), text]
    if version >= 166:  # decoder.errorMsg unpacks advancedOrderRejectJson from 166 on
        fields.append(advanced)
    return fields


def current_time(epoch: int) -> Fields:
    return ["49", "1", str(epoch)]


def user_info(req_id: int, white_branding_id: str = "") -> Fields:
    return ["107", str(req_id), white_branding_id]


def market_rule(rule_id: int, increments: Iterable[tuple[float, float]]) -> Fields:
    rows = list(increments)
    fields = ["93", str(rule_id), str(len(rows))]
    for low_edge, increment in rows:
        fields += [num(low_edge), num(increment)]
    return fields


# ---- contracts ---------------------------------------------------------------------------


def contract_details(req_id: int, cd: ContractDetails, version: int) -> Fields:
    """Mirror of ``Decoder.contractDetails`` (version field and mdSizeMultiplier below 164)."""
    c = cd.contract or Contract()
    last_times = c.lastTradeDateOrContractMonth
    if cd.lastTradeTime:
        last_times += " " + cd.lastTradeTime
    fields = ["10"] + (["8"] if version < 164 else [])
    fields += [str(req_id), c.symbol, c.secType, last_times, num(c.strike), c.right, c.exchange]
    fields += [c.currency, c.localSymbol, cd.marketName, c.tradingClass, str(c.conId)]
    fields += [num(cd.minTick)] + ([""] if version < 164 else [])
    fields += [c.multiplier, cd.orderTypes, cd.validExchanges, str(cd.priceMagnifier)]
    fields += [str(cd.underConId), cd.longName, c.primaryExchange, cd.contractMonth]
    fields += [cd.industry, cd.category, cd.subcategory, cd.timeZoneId, cd.tradingHours]
    fields += [cd.liquidHours, cd.evRule, str(cd.evMultiplier or "")]
    sec_ids = cd.secIdList or []
    fields.append(str(len(sec_ids)))
    for tv in sec_ids:
        fields += [tv.tag, tv.value]
    fields += [str(cd.aggGroup), cd.underSymbol, cd.underSecType, cd.marketRuleIds]
    fields += [cd.realExpirationDate, cd.stockType]
    if version == 163:
        fields.append(num(cd.suggestedSizeIncrement))
    if version >= 164:
        fields += [num(cd.minSize), num(cd.sizeIncrement), num(cd.suggestedSizeIncrement)]
    return fields


def contract_details_end(req_id: int) -> Fields:
    return ["52", "1", str(req_id)]


def symbol_samples(req_id: int, contracts: Sequence[tuple[Contract, str]], version: int) -> Fields:
    """reqMatchingSymbols: (contract, description) pairs; no derivative sec types."""
    fields = ["79", str(req_id), str(len(contracts))]
    for c, description in contracts:
        fields += [str(c.conId), c.symbol, c.secType, c.primaryExchange, c.currency, "0"]
        if version >= 176:
            fields += [description, ""]
    return fields


# ---- historical and real-time bars -------------------------------------------------------


def historical_data(req_id: int, start: str, end: str, bars: Sequence[Sequence[str]]) -> Fields:
    """``bars``: already formatted (date, open, high, low, close, volume, wap, count)."""
    fields = ["17", str(req_id), start, end, str(len(bars))]
    for bar in bars:
        fields.extend(bar)
    return fields


def bar_fields(
    date: str, o: float, h: float, lo: float, c: float, volume: float, wap: float, count: int
) -> list[str]:
    return [date, num(o), num(h), num(lo), num(c), num(volume), num(wap), str(count)]


def historical_update(
    req_id: int,
    count: int,
    date: str,
    o: float,
    c: float,
    h: float,
    lo: float,
    wap: float,
    volume: float,
) -> Fields:
    """Mirror of ``Decoder.historicalDataUpdate``: note the order open, close, high, low."""
    return [
        "90",
        str(req_id),
        str(count),
        date,
        num(o),
        num(c),
        num(h),
        num(lo),
        num(wap),
        num(volume),
    ]


def head_timestamp(req_id: int, text: str) -> Fields:
    return ["88", str(req_id), text]


def real_time_bar(
    req_id: int,
    epoch: int,
    o: float,
    h: float,
    lo: float,
    c: float,
    volume: float,
    wap: float,
    count: int,
) -> Fields:
    return [
        "50",
        "3",
        str(req_id),
        str(epoch),
        num(o),
        num(h),
        num(lo),
        num(c),
        num(volume),
        num(wap),
        str(count),
    ]


# ---- market data -------------------------------------------------------------------------


def tick_price(req_id: int, tick_type: int, price: float, size: float, mask: int = 0) -> Fields:
    """Exactly 7 fields: ``Decoder.priceSizeTick`` unpacks them so."""
    return ["1", "6", str(req_id), str(tick_type), num(price), num(size), str(mask)]


def tick_size(req_id: int, tick_type: int, size: float) -> Fields:
    return ["2", "6", str(req_id), str(tick_type), num(size)]


def tick_req_params(req_id: int, min_tick: float, bbo_exchange: str, permissions: int) -> Fields:
    return ["81", str(req_id), num(min_tick), bbo_exchange, str(permissions)]


def market_data_type(req_id: int, data_type: int) -> Fields:
    return ["58", "1", str(req_id), str(data_type)]


def tick_snapshot_end(req_id: int) -> Fields:
    return ["57", "1", str(req_id)]


def tick_by_tick_last(
    req_id: int,
    tick_type: int,
    epoch: int,
    price: float,
    size: float,
    exchange: str = "",
    mask: int = 0,
    special: str = "",
) -> Fields:
    """tickType 1 = Last, 2 = AllLast."""
    return [
        "99",
        str(req_id),
        str(tick_type),
        str(epoch),
        num(price),
        num(size),
        str(mask),
        exchange,
        special,
    ]


def tick_by_tick_bid_ask(
    req_id: int,
    epoch: int,
    bid: float,
    ask: float,
    bid_size: float,
    ask_size: float,
    mask: int = 0,
) -> Fields:
    return [
        "99",
        str(req_id),
        "3",
        str(epoch),
        num(bid),
        num(ask),
        num(bid_size),
        num(ask_size),
        str(mask),
    ]


def tick_by_tick_mid(req_id: int, epoch: int, mid: float) -> Fields:
    return ["99", str(req_id), "4", str(epoch), num(mid)]


# ---- orders ------------------------------------------------------------------------------


def _contract11(c: Contract) -> Fields:
    """conId .. tradingClass without primaryExchange: the layout of openOrder/execDetails."""
    return [
        str(c.conId),
        c.symbol,
        c.secType,
        c.lastTradeDateOrContractMonth,
        num(c.strike),
        c.right,
        c.multiplier,
        c.exchange,
        c.currency,
        c.localSymbol,
        c.tradingClass,
    ]


def _attrs(obj: Any, *names: str) -> Fields:
    return [fmt(getattr(obj, n)) for n in names]


def _combo_and_scale(c: Contract, o: Order) -> Fields:
    legs = c.comboLegs or []
    fields = [str(len(legs))]
    for leg in legs:
        fields += _attrs(leg, "conId", "ratio", "action", "exchange", "openClose")
        fields += _attrs(leg, "shortSaleSlot", "designatedLocation", "exemptCode")
    order_legs = o.orderComboLegs or []
    fields.append(str(len(order_legs)))
    fields += [fmt(leg.price) for leg in order_legs]
    params = o.smartComboRoutingParams or []
    fields.append(str(len(params)))
    for tv in params:
        fields += [tv.tag, tv.value]
    fields += _attrs(o, "scaleInitLevelSize", "scaleSubsLevelSize", "scalePriceIncrement")
    if 0 < o.scalePriceIncrement < UNSET_DOUBLE:
        fields += _attrs(o, "scalePriceAdjustValue", "scalePriceAdjustInterval")
        fields += _attrs(o, "scaleProfitOffset", "scaleAutoReset", "scaleInitPosition")
        fields += _attrs(o, "scaleInitFillQty", "scaleRandomPercent")
    fields.append(o.hedgeType)
    if o.hedgeType:
        fields.append(o.hedgeParam)
    return fields


def _dnc_and_algo(c: Contract, o: Order) -> Fields:
    dnc = c.deltaNeutralContract
    fields = ["1", str(dnc.conId), fmt(dnc.delta), fmt(dnc.price)] if dnc else ["0"]
    fields.append(o.algoStrategy)
    if o.algoStrategy:
        params = o.algoParams or []
        fields.append(str(len(params)))
        for tv in params:
            fields += [tv.tag, tv.value]
    return fields


def _peg_bench_and_conditions(o: Order) -> Fields:
    fields: Fields = []
    if o.orderType == "PEG BENCH":
        fields += _attrs(o, "referenceContractId", "isPeggedChangeAmountDecrease")
        fields += _attrs(o, "peggedChangeAmount", "referenceChangeAmount", "referenceExchangeId")
    fields.append(str(len(o.conditions)))
    if o.conditions:
        for cond in o.conditions:
            fields += [fmt(v) for v in dataclasses.astuple(cond)]
        fields += _attrs(o, "conditionsIgnoreRth", "conditionsCancelOrder")
    return fields


def _peg_tail(o: Order) -> Fields:
    return _attrs(
        o,
        "minTradeQty",
        "minCompeteSize",
        "competeAgainstBestOffset",
        "midOffsetAtWhole",
        "midOffsetAtHalf",
    )


def open_order(contract: Contract, order: Order, state: OrderState, version: int) -> Fields:
    """Mirror of ``Decoder.openOrder`` (no version field; duration from 159 on)."""
    o, c = order, contract
    f = ["5", str(o.orderId), *_contract11(c)]
    f += _attrs(o, "action", "totalQuantity", "orderType", "lmtPrice", "auxPrice", "tif")
    f += _attrs(o, "ocaGroup", "account", "openClose", "origin", "orderRef", "clientId")
    f += _attrs(o, "permId", "outsideRth", "hidden", "discretionaryAmt", "goodAfterTime")
    f.append("")  # deprecated sharesAllocation
    f += _attrs(o, "faGroup", "faMethod", "faPercentage", "faProfile", "modelCode")
    f += _attrs(o, "goodTillDate", "rule80A", "percentOffset", "settlingFirm", "shortSaleSlot")
    f += _attrs(o, "designatedLocation", "exemptCode", "auctionStrategy", "startingPrice")
    f += _attrs(o, "stockRefPrice", "delta", "stockRangeLower", "stockRangeUpper")
    f += _attrs(o, "displaySize", "blockOrder", "sweepToFill", "allOrNone", "minQty")
    f += _attrs(o, "ocaType", "eTradeOnly", "firmQuoteOnly", "nbboPriceCap", "parentId")
    f += _attrs(o, "triggerMethod", "volatility", "volatilityType", "deltaNeutralOrderType")
    f += _attrs(o, "deltaNeutralAuxPrice")
    if o.deltaNeutralOrderType:
        f += _attrs(o, "deltaNeutralConId", "deltaNeutralSettlingFirm")
        f += _attrs(o, "deltaNeutralClearingAccount", "deltaNeutralClearingIntent")
        f += _attrs(o, "deltaNeutralOpenClose", "deltaNeutralShortSale")
        f += _attrs(o, "deltaNeutralShortSaleSlot", "deltaNeutralDesignatedLocation")
    f += _attrs(o, "continuousUpdate", "referencePriceType", "trailStopPrice", "trailingPercent")
    f += _attrs(o, "basisPoints", "basisPointsType")
    f.append(c.comboLegsDescrip)
    f += _combo_and_scale(c, o)
    f += _attrs(o, "optOutSmartRouting", "clearingAccount", "clearingIntent", "notHeld")
    f += _dnc_and_algo(c, o)
    f += _attrs(o, "solicited", "whatIf")
    f += _attrs(state, "status", "initMarginBefore", "maintMarginBefore", "equityWithLoanBefore")
    f += _attrs(state, "initMarginChange", "maintMarginChange", "equityWithLoanChange")
    f += _attrs(state, "initMarginAfter", "maintMarginAfter", "equityWithLoanAfter")
    f += _attrs(state, "commission", "minCommission", "maxCommission", "commissionCurrency")
    f += _attrs(state, "warningText")
    f += _attrs(o, "randomizeSize", "randomizePrice")
    f += _peg_bench_and_conditions(o)
    f += _attrs(o, "adjustedOrderType", "triggerPrice", "trailStopPrice", "lmtPriceOffset")
    f += _attrs(o, "adjustedStopPrice", "adjustedStopLimitPrice", "adjustedTrailingAmount")
    f += _attrs(o, "adjustableTrailingUnit")
    tier = o.softDollarTier
    f += [tier.name, tier.val, tier.displayName]
    f += _attrs(o, "cashQty", "dontUseAutoPriceForHedge", "isOmsContainer")
    f += _attrs(o, "discretionaryUpToLimitPrice", "usePriceMgmtAlgo")
    if version >= 159:
        f.append(fmt(o.duration))
    if version >= 160:
        f.append(fmt(o.postToAts))
    if version >= 162:
        f.append(fmt(o.autoCancelParent))
    if version >= 170:
        f += _peg_tail(o)
    return f


def open_order_end() -> Fields:
    return ["53", "1"]


def order_status(
    order_id: int,
    status: str,
    filled: float,
    remaining: float,
    avg_fill_price: float,
    perm_id: int,
    parent_id: int,
    last_fill_price: float,
    client_id: int,
    why_held: str = "",
    mkt_cap_price: float = 0.0,
) -> Fields:
    """No version field: ``Decoder`` reads orderStatus with skip=1."""
    return [
        "3",
        str(order_id),
        status,
        num(filled),
        num(remaining),
        num(avg_fill_price),
        str(perm_id),
        str(parent_id),
        num(last_fill_price),
        str(client_id),
        why_held,
        num(mkt_cap_price),
    ]


def completed_order(contract: Contract, order: Order, state: OrderState, version: int) -> Fields:
    """Mirror of ``Decoder.completedOrder`` (no orderId, no clientId)."""
    o, c = order, contract
    f = ["101", *_contract11(c)]
    f += _attrs(o, "action", "totalQuantity", "orderType", "lmtPrice", "auxPrice", "tif")
    f += _attrs(o, "ocaGroup", "account", "openClose", "origin", "orderRef", "permId")
    f += _attrs(o, "outsideRth", "hidden", "discretionaryAmt", "goodAfterTime", "faGroup")
    f += _attrs(o, "faMethod", "faPercentage", "faProfile", "modelCode", "goodTillDate")
    f += _attrs(o, "rule80A", "percentOffset", "settlingFirm", "shortSaleSlot")
    f += _attrs(o, "designatedLocation", "exemptCode", "startingPrice", "stockRefPrice")
    f += _attrs(o, "delta", "stockRangeLower", "stockRangeUpper", "displaySize", "sweepToFill")
    f += _attrs(o, "allOrNone", "minQty", "ocaType", "triggerMethod", "volatility")
    f += _attrs(o, "volatilityType", "deltaNeutralOrderType", "deltaNeutralAuxPrice")
    if o.deltaNeutralOrderType:
        f += _attrs(o, "deltaNeutralConId", "deltaNeutralShortSale")
        f += _attrs(o, "deltaNeutralShortSaleSlot", "deltaNeutralDesignatedLocation")
    f += _attrs(o, "continuousUpdate", "referencePriceType", "trailStopPrice", "trailingPercent")
    f.append(c.comboLegsDescrip)
    f += _combo_and_scale(c, o)
    f += _attrs(o, "clearingAccount", "clearingIntent", "notHeld")
    f += _dnc_and_algo(c, o)
    f += [fmt(o.solicited), state.status]
    f += _attrs(o, "randomizeSize", "randomizePrice")
    f += _peg_bench_and_conditions(o)
    f += _attrs(o, "trailStopPrice", "lmtPriceOffset", "cashQty", "dontUseAutoPriceForHedge")
    f += _attrs(o, "isOmsContainer", "autoCancelDate", "filledQuantity", "refFuturesConId")
    f += _attrs(o, "autoCancelParent", "shareholder", "imbalanceOnly", "routeMarketableToBbo")
    f += _attrs(o, "parentPermId")
    f += [state.completedTime, state.completedStatus]
    if version >= 170:
        f += _peg_tail(o)
    return f


def completed_orders_end() -> Fields:
    return ["102"]


def exec_details(req_id: int, contract: Contract, ex: Execution, time_text: str) -> Fields:
    """Mirror of ``Decoder.execDetails``: exactly 31 fields."""
    return [
        "11",
        str(req_id),
        str(ex.orderId),
        *_contract11(contract),
        ex.execId,
        time_text,
        ex.acctNumber,
        ex.exchange,
        ex.side,
        num(ex.shares),
        num(ex.price),
        str(ex.permId),
        str(ex.clientId),
        str(ex.liquidation),
        num(ex.cumQty),
        num(ex.avgPrice),
        ex.orderRef,
        ex.evRule,
        fmt(ex.evMultiplier or None),
        ex.modelCode,
        str(ex.lastLiquidity),
    ]


def exec_details_end(req_id: int) -> Fields:
    return ["55", "1", str(req_id)]


def commission_report(cr: CommissionReport) -> Fields:
    """Exactly 8 fields; an opening trade's realizedPNL is IB's unset double."""
    realized = repr(UNSET_DOUBLE) if cr.realizedPNL == UNSET_DOUBLE else num(cr.realizedPNL)
    return [
        "59",
        "1",
        cr.execId,
        num(cr.commission),
        cr.currency,
        realized,
        fmt(cr.yield_ or None),
        fmt(cr.yieldRedemptionDate or None),
    ]


# ---- account and portfolio ---------------------------------------------------------------


def position(account: str, contract: Contract, pos: float, avg_cost: float) -> Fields:
    """Exactly 16 fields (version 3)."""
    return ["61", "3", account, *_contract11(contract), num(pos), num(avg_cost)]


def position_end() -> Fields:
    return ["62", "1"]


def position_multi(
    req_id: int, account: str, model_code: str, contract: Contract, pos: float, avg_cost: float
) -> Fields:
    return [
        "71",
        "1",
        str(req_id),
        account,
        *_contract11(contract),
        num(pos),
        num(avg_cost),
        model_code,
    ]


def position_multi_end(req_id: int) -> Fields:
    return ["72", "1", str(req_id)]


def account_value(tag: str, value: str, currency: str, account: str) -> Fields:
    return ["6", "2", tag, value, currency, account]


def portfolio_value(
    contract: Contract,
    pos: float,
    market_price: float,
    market_value: float,
    avg_cost: float,
    unrealized: float,
    realized: float,
    account: str,
) -> Fields:
    """Exactly 20 fields (version 8): primaryExchange where other messages have exchange."""
    c = contract
    return [
        "7",
        "8",
        str(c.conId),
        c.symbol,
        c.secType,
        c.lastTradeDateOrContractMonth,
        num(c.strike),
        c.right,
        c.multiplier,
        c.primaryExchange,
        c.currency,
        c.localSymbol,
        c.tradingClass,
        num(pos),
        num(market_price),
        num(market_value),
        num(avg_cost),
        num(unrealized),
        num(realized),
        account,
    ]


def account_time(text: str) -> Fields:
    return ["8", "1", text]


def account_download_end(account: str) -> Fields:
    return ["54", "1", account]


def account_update_multi(
    req_id: int, account: str, model_code: str, tag: str, value: str, currency: str
) -> Fields:
    return ["73", "1", str(req_id), account, model_code, tag, value, currency]


def account_update_multi_end(req_id: int) -> Fields:
    return ["74", "1", str(req_id)]


def account_summary(req_id: int, account: str, tag: str, value: str, currency: str) -> Fields:
    return ["63", "1", str(req_id), account, tag, value, currency]


def account_summary_end(req_id: int) -> Fields:
    return ["64", "1", str(req_id)]


def pnl(req_id: int, daily: float, unrealized: float, realized: float) -> Fields:
    return ["94", str(req_id), num(daily), num(unrealized), num(realized)]


def pnl_single(
    req_id: int, pos: float, daily: float, unrealized: float, realized: float, value: float
) -> Fields:
    """``pos`` goes through int() in ib_insync: written as a whole number."""
    return ["95", str(req_id), integer(pos), num(daily), num(unrealized), num(realized), num(value)]


# ---- scanner -----------------------------------------------------------------------------


def scanner_parameters(xml: str) -> Fields:
    return ["19", "1", xml]


def scanner_data(req_id: int, rows: Sequence[tuple[int, ContractDetails]]) -> Fields:
    fields = ["20", "3", str(req_id), str(len(rows))]
    for rank, cd in rows:
        c = cd.contract or Contract()
        fields += [
            str(rank),
            str(c.conId),
            c.symbol,
            c.secType,
            c.lastTradeDateOrContractMonth,
            num(c.strike),
            c.right,
            c.exchange,
            c.currency,
            c.localSymbol,
            cd.marketName,
            c.tradingClass,
            "",
            "",
            "",
            "",
        ]
    return fields


# ---- fundamentals ------------------------------------------------------------------------


def fundamental_data(req_id: int, xml: str) -> Fields:
    """Message 51 (decoder: version, reqId, data)."""
    return ["51", "1", str(req_id), xml]
