"""Client requests: fields of one message -> a small typed request object.

Each parser mirrors the ib_insync ``Client`` method that wrote the message, field by field and
version-gated exactly as the client gates it (``client.py`` is the authority). Contracts and
orders come back as ib_insync objects. A message whose fields do not parse raises
:class:`MalformedRequest`; an id this gateway does not know raises :class:`UnknownMessage`.
Trailing extra fields are tolerated, missing ones are not.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ib_insync import Contract, ExecutionFilter, Order, ScannerSubscription, TagValue
from ib_insync.contract import ComboLeg, DeltaNeutralContract
from ib_insync.order import OrderComboLeg, OrderCondition
from ib_insync.util import UNSET_DOUBLE


class MalformedRequest(ValueError):
    """The fields of a known message do not parse; ``req_id`` is -1 when not known."""

    def __init__(self, msg_id: int, text: str, req_id: int = -1) -> None:
        super().__init__(f"message {msg_id}: {text}")
        self.msg_id = msg_id
        self.req_id = req_id


class UnknownMessage(ValueError):
    def __init__(self, msg_id_text: str) -> None:
        super().__init__(f"unknown message id {msg_id_text[:20]!r}")
        self.msg_id_text = msg_id_text


class Cursor:
    """Reads one message's fields in order, converting like ib_insync's Decoder.parse."""

    __slots__ = ("fields", "msg_id", "pos", "req_id")

    def __init__(self, fields: list[str], msg_id: int) -> None:
        self.fields = fields
        self.msg_id = msg_id
        self.pos = 1
        self.req_id = -1

    def text(self) -> str:
        try:
            value = self.fields[self.pos]
        except IndexError:
            raise self.error(f"missing field {self.pos}") from None
        self.pos += 1
        return value

    def integer(self, default: int = 0) -> int:
        text = self.text()
        if not text:
            return default
        try:
            return int(text)
        except ValueError:
            try:  # IB's own clients send some ints as "100.0"
                number = float(text)
                if number.is_integer():
                    return int(number)
            except ValueError:
                pass
            raise self.error(f"field {self.pos - 1} is not an integer: {text[:30]!r}") from None

    def number(self, default: float = 0.0) -> float:
        text = self.text()
        if not text:
            return default
        if text == "Infinite":  # Client.send writes math.inf so
            return math.inf
        try:
            return float(text)
        except ValueError:
            raise self.error(f"field {self.pos - 1} is not a number: {text[:30]!r}") from None

    def flag(self, default: bool = False) -> bool:
        text = self.text()
        if not text:
            return default
        if text in ("True", "true"):
            return True
        if text in ("False", "false"):
            return False
        try:
            return bool(int(float(text)))
        except ValueError:
            raise self.error(f"field {self.pos - 1} is not a boolean: {text[:30]!r}") from None

    def req(self) -> int:
        """The request id; remembered so that errors can name it."""
        self.req_id = self.integer()
        return self.req_id

    def contract(self) -> Contract:
        """The 12 fields ``Client.send`` writes for a Contract."""
        c = Contract()
        c.conId = self.integer()
        c.symbol = self.text()
        c.secType = self.text()
        c.lastTradeDateOrContractMonth = self.text()
        c.strike = self.number()
        c.right = self.text()
        c.multiplier = self.text()
        c.exchange = self.text()
        c.primaryExchange = self.text()
        c.currency = self.text()
        c.localSymbol = self.text()
        c.tradingClass = self.text()
        return c

    def into(self, obj: Any, *names: str) -> None:
        """Read the named attributes of an ib_insync dataclass, typed by their defaults."""
        kinds = _kinds(type(obj))
        for name in names:
            kind = kinds[name]
            if kind is bool:
                setattr(obj, name, self.flag(getattr(obj, name)))
            elif kind is int:
                setattr(obj, name, self.integer(_DEFAULTS[type(obj)][name]))
            elif kind is float:
                setattr(obj, name, self.number(_DEFAULTS[type(obj)][name]))
            else:
                setattr(obj, name, self.text())

    def error(self, text: str) -> MalformedRequest:
        return MalformedRequest(self.msg_id, text, self.req_id)


_KINDS: dict[type, dict[str, type]] = {}
_DEFAULTS: dict[type, dict[str, Any]] = {}


def _kinds(cls: type) -> dict[str, type]:
    kinds = _KINDS.get(cls)
    if kinds is None:
        kinds, defaults = {}, {}
        for f in dataclasses.fields(cls):
            if f.default is not dataclasses.MISSING:
                kinds[f.name] = type(f.default)
                defaults[f.name] = f.default
            else:
                kinds[f.name] = object
        _KINDS[cls], _DEFAULTS[cls] = kinds, defaults
    return kinds


# ---- request objects --------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StartApi:
    client_id: int
    optional_capabilities: str


@dataclass(frozen=True, slots=True)
class ReqMktData:
    req_id: int
    contract: Contract
    generic_ticks: str
    snapshot: bool
    regulatory_snapshot: bool


@dataclass(frozen=True, slots=True)
class CancelMktData:
    req_id: int


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    order_id: int
    contract: Contract
    order: Order


@dataclass(frozen=True, slots=True)
class CancelOrder:
    order_id: int
    manual_time: str


@dataclass(frozen=True, slots=True)
class ReqOpenOrders:
    pass


@dataclass(frozen=True, slots=True)
class ReqAllOpenOrders:
    pass


@dataclass(frozen=True, slots=True)
class ReqAutoOpenOrders:
    auto_bind: bool


@dataclass(frozen=True, slots=True)
class ReqAccountUpdates:
    subscribe: bool
    account: str


@dataclass(frozen=True, slots=True)
class ReqExecutions:
    req_id: int
    filter: ExecutionFilter


@dataclass(frozen=True, slots=True)
class ReqIds:
    num_ids: int


@dataclass(frozen=True, slots=True)
class ReqContractDetails:
    req_id: int
    contract: Contract


@dataclass(frozen=True, slots=True)
class ReqManagedAccts:
    pass


@dataclass(frozen=True, slots=True)
class ReqHistoricalData:
    req_id: int
    contract: Contract
    end: str
    bar_size: str
    duration: str
    use_rth: bool
    what_to_show: str
    format_date: int
    keep_up_to_date: bool


@dataclass(frozen=True, slots=True)
class CancelHistoricalData:
    req_id: int


@dataclass(frozen=True, slots=True)
class ReqCurrentTime:
    pass


@dataclass(frozen=True, slots=True)
class ReqRealTimeBars:
    req_id: int
    contract: Contract
    bar_size: int
    what_to_show: str
    use_rth: bool


@dataclass(frozen=True, slots=True)
class CancelRealTimeBars:
    req_id: int


@dataclass(frozen=True, slots=True)
class ReqGlobalCancel:
    pass


@dataclass(frozen=True, slots=True)
class ReqMarketDataType:
    market_data_type: int


@dataclass(frozen=True, slots=True)
class ReqPositions:
    pass


@dataclass(frozen=True, slots=True)
class CancelPositions:
    pass


@dataclass(frozen=True, slots=True)
class ReqAccountSummary:
    req_id: int
    group: str
    tags: str


@dataclass(frozen=True, slots=True)
class CancelAccountSummary:
    req_id: int


@dataclass(frozen=True, slots=True)
class ReqAccountUpdatesMulti:
    req_id: int
    account: str
    model_code: str
    ledger_and_nlv: bool


@dataclass(frozen=True, slots=True)
class CancelAccountUpdatesMulti:
    req_id: int


@dataclass(frozen=True, slots=True)
class ReqPositionsMulti:
    req_id: int
    account: str
    model_code: str


@dataclass(frozen=True, slots=True)
class CancelPositionsMulti:
    req_id: int


@dataclass(frozen=True, slots=True)
class ReqHeadTimeStamp:
    req_id: int
    contract: Contract
    use_rth: bool
    what_to_show: str
    format_date: int


@dataclass(frozen=True, slots=True)
class CancelHeadTimeStamp:
    req_id: int


@dataclass(frozen=True, slots=True)
class ReqMarketRule:
    market_rule_id: int


@dataclass(frozen=True, slots=True)
class ReqPnL:
    req_id: int
    account: str
    model_code: str


@dataclass(frozen=True, slots=True)
class CancelPnL:
    req_id: int


@dataclass(frozen=True, slots=True)
class ReqPnLSingle:
    req_id: int
    account: str
    model_code: str
    con_id: int


@dataclass(frozen=True, slots=True)
class CancelPnLSingle:
    req_id: int


@dataclass(frozen=True, slots=True)
class ReqTickByTickData:
    req_id: int
    contract: Contract
    tick_type: str
    number_of_ticks: int
    ignore_size: bool


@dataclass(frozen=True, slots=True)
class CancelTickByTickData:
    req_id: int


@dataclass(frozen=True, slots=True)
class ReqCompletedOrders:
    api_only: bool


@dataclass(frozen=True, slots=True)
class ReqMatchingSymbols:
    req_id: int
    pattern: str


@dataclass(frozen=True, slots=True)
class ReqUserInfo:
    req_id: int


@dataclass(frozen=True, slots=True)
class ReqScannerParameters:
    pass


@dataclass(frozen=True, slots=True)
class ReqScannerSubscription:
    req_id: int
    subscription: ScannerSubscription


@dataclass(frozen=True, slots=True)
class CancelScannerSubscription:
    req_id: int


@dataclass(frozen=True, slots=True)
class ReqFundamentalData:
    req_id: int
    contract: Contract
    report_type: str


@dataclass(frozen=True, slots=True)
class CancelFundamentalData:
    req_id: int


@dataclass(frozen=True, slots=True)
class Ignored:
    """A request that needs no answer here (log level, news bulletins...)."""

    msg_id: int


@dataclass(frozen=True, slots=True)
class Unsupported:
    """A request IB knows that this gateway does not serve; answered with an error."""

    msg_id: int
    name: str
    req_id: int


Request = Any  # one of the dataclasses above


# ---- parsers ----------------------------------------------------------------------------


def _start_api(c: Cursor, v: int) -> StartApi:
    c.integer()  # version 2
    client_id = c.integer()
    capabilities = c.text() if c.pos < len(c.fields) else ""
    return StartApi(client_id, capabilities)


def _skip_bag_legs(c: Cursor, contract: Contract, fields_per_leg: int) -> None:
    if contract.secType == "BAG":
        count = c.integer()
        if count < 0 or c.pos + count * fields_per_leg > len(c.fields):
            raise c.error(f"{count} combo legs do not fit in the message")
        c.pos += count * fields_per_leg


def _delta_neutral(c: Cursor, contract: Contract) -> None:
    if c.flag():
        contract.deltaNeutralContract = DeltaNeutralContract(c.integer(), c.number(), c.number())


def _req_mkt_data(c: Cursor, v: int) -> ReqMktData:
    c.integer()  # version 11
    req_id = c.req()
    contract = c.contract()
    _skip_bag_legs(c, contract, 4)
    _delta_neutral(c, contract)
    generic = c.text()
    snapshot = c.flag()
    regulatory = c.flag()
    return ReqMktData(req_id, contract, generic, snapshot, regulatory)


def _versioned_req(cls: Callable[[int], Any]) -> Callable[[Cursor, int], Any]:
    def parse(c: Cursor, v: int) -> Any:
        c.integer()  # version
        return cls(c.req())

    return parse


def _unversioned_req(cls: Callable[[int], Any]) -> Callable[[Cursor, int], Any]:
    def parse(c: Cursor, v: int) -> Any:
        return cls(c.req())

    return parse


def _no_args(cls: Callable[[], Any], versioned: bool = True) -> Callable[[Cursor, int], Any]:
    def parse(c: Cursor, v: int) -> Any:
        if versioned:
            c.integer()
        return cls()

    return parse


def _cancel_order(c: Cursor, v: int) -> CancelOrder:
    c.integer()  # version 1
    order_id = c.req()
    manual = c.text() if v >= 169 else ""
    return CancelOrder(order_id, manual)


def _req_account_updates(c: Cursor, v: int) -> ReqAccountUpdates:
    c.integer()  # version 2
    return ReqAccountUpdates(c.flag(), c.text())


def _req_executions(c: Cursor, v: int) -> ReqExecutions:
    c.integer()  # version 3
    req_id = c.req()
    flt = ExecutionFilter()
    c.into(flt, "clientId", "acctCode", "time", "symbol", "secType", "exchange", "side")
    return ReqExecutions(req_id, flt)


def _req_ids(c: Cursor, v: int) -> ReqIds:
    c.integer()
    return ReqIds(c.integer())


def _req_contract_details(c: Cursor, v: int) -> ReqContractDetails:
    c.integer()  # version 8
    req_id = c.req()
    contract = c.contract()
    contract.includeExpired = c.flag()
    contract.secIdType = c.text()
    contract.secId = c.text()
    if v >= 176:
        contract.issuerId = c.text()
    return ReqContractDetails(req_id, contract)


def _req_historical_data(c: Cursor, v: int) -> ReqHistoricalData:
    req_id = c.req()
    contract = c.contract()
    contract.includeExpired = c.flag()
    end = c.text()
    bar_size = c.text()
    duration = c.text()
    use_rth = c.flag()
    what = c.text()
    format_date = c.integer(1)
    _skip_bag_legs(c, contract, 4)
    keep = c.flag()
    c.text()  # chartOptions
    return ReqHistoricalData(
        req_id, contract, end, bar_size, duration, use_rth, what, format_date, keep
    )


def _req_real_time_bars(c: Cursor, v: int) -> ReqRealTimeBars:
    c.integer()  # version 3
    req_id = c.req()
    contract = c.contract()
    bar_size = c.integer()
    what = c.text()
    use_rth = c.flag()
    return ReqRealTimeBars(req_id, contract, bar_size, what, use_rth)


def _req_market_data_type(c: Cursor, v: int) -> ReqMarketDataType:
    c.integer()
    return ReqMarketDataType(c.integer())


def _req_account_summary(c: Cursor, v: int) -> ReqAccountSummary:
    c.integer()
    req_id = c.req()
    return ReqAccountSummary(req_id, c.text(), c.text())


def _req_account_updates_multi(c: Cursor, v: int) -> ReqAccountUpdatesMulti:
    c.integer()
    req_id = c.req()
    return ReqAccountUpdatesMulti(req_id, c.text(), c.text(), c.flag())


def _req_positions_multi(c: Cursor, v: int) -> ReqPositionsMulti:
    c.integer()
    req_id = c.req()
    return ReqPositionsMulti(req_id, c.text(), c.text())


def _req_head_time_stamp(c: Cursor, v: int) -> ReqHeadTimeStamp:
    req_id = c.req()
    contract = c.contract()
    contract.includeExpired = c.flag()
    use_rth = c.flag()
    what = c.text()
    return ReqHeadTimeStamp(req_id, contract, use_rth, what, c.integer(1))


def _req_market_rule(c: Cursor, v: int) -> ReqMarketRule:
    return ReqMarketRule(c.integer())


def _req_pnl(c: Cursor, v: int) -> ReqPnL:
    req_id = c.req()
    return ReqPnL(req_id, c.text(), c.text())


def _req_pnl_single(c: Cursor, v: int) -> ReqPnLSingle:
    req_id = c.req()
    return ReqPnLSingle(req_id, c.text(), c.text(), c.integer())


def _req_tick_by_tick(c: Cursor, v: int) -> ReqTickByTickData:
    req_id = c.req()
    contract = c.contract()
    return ReqTickByTickData(req_id, contract, c.text(), c.integer(), c.flag())


def _req_completed_orders(c: Cursor, v: int) -> ReqCompletedOrders:
    return ReqCompletedOrders(c.flag())


def _req_matching_symbols(c: Cursor, v: int) -> ReqMatchingSymbols:
    req_id = c.req()
    return ReqMatchingSymbols(req_id, c.text())


def _req_auto_open_orders(c: Cursor, v: int) -> ReqAutoOpenOrders:
    c.integer()
    return ReqAutoOpenOrders(c.flag())


def _req_scanner_subscription(c: Cursor, v: int) -> ReqScannerSubscription:
    req_id = c.req()
    sub = ScannerSubscription()
    c.into(sub, *(f.name for f in dataclasses.fields(ScannerSubscription)))
    c.text()  # scannerSubscriptionFilterOptions
    c.text()  # scannerSubscriptionOptions
    return ReqScannerSubscription(req_id, sub)


def _req_fundamental_data(c: Cursor, v: int) -> ReqFundamentalData:
    """Version 2: the reqId, seven contract fields (not the usual twelve), the report type;
    the options list that follows is "reserved for internal use" and ignored."""
    c.integer()  # version 2
    req_id = c.req()
    contract = Contract()
    contract.conId = c.integer()
    contract.symbol = c.text()
    contract.secType = c.text()
    contract.exchange = c.text()
    contract.primaryExchange = c.text()
    contract.currency = c.text()
    contract.localSymbol = c.text()
    return ReqFundamentalData(req_id, contract, c.text())


def _ignored(c: Cursor, v: int) -> Ignored:
    return Ignored(c.msg_id)


def _unsupported(
    name: str, versioned: bool, has_req_id: bool = True
) -> Callable[[Cursor, int], Any]:
    def parse(c: Cursor, v: int) -> Unsupported:
        if versioned and c.pos < len(c.fields):
            c.integer()
        req_id = c.integer(-1) if has_req_id and c.pos < len(c.fields) else -1
        return Unsupported(c.msg_id, name, req_id)

    return parse


# ---- placeOrder -------------------------------------------------------------------------


def _place_order(c: Cursor, v: int) -> PlaceOrder:
    """Mirror of ``Client.placeOrder``: later positions depend on earlier conditional fields."""
    order_id = c.req()
    contract = c.contract()
    contract.secIdType = c.text()
    contract.secId = c.text()
    o = Order(orderId=order_id)
    c.into(o, "action", "totalQuantity", "orderType", "lmtPrice", "auxPrice", "tif", "ocaGroup")
    c.into(o, "account", "openClose", "origin", "orderRef", "transmit", "parentId", "blockOrder")
    c.into(o, "sweepToFill", "displaySize", "triggerMethod", "outsideRth", "hidden")
    if contract.secType == "BAG":
        _bag_order_parts(c, contract, o)
    c.text()  # deprecated sharesAllocation
    c.into(o, "discretionaryAmt", "goodAfterTime", "goodTillDate", "faGroup", "faMethod")
    c.into(o, "faPercentage", "faProfile", "modelCode", "shortSaleSlot", "designatedLocation")
    c.into(o, "exemptCode", "ocaType", "rule80A", "settlingFirm", "allOrNone", "minQty")
    c.into(o, "percentOffset", "eTradeOnly", "firmQuoteOnly", "nbboPriceCap", "auctionStrategy")
    c.into(o, "startingPrice", "stockRefPrice", "delta", "stockRangeLower", "stockRangeUpper")
    c.into(o, "overridePercentageConstraints", "volatility", "volatilityType")
    c.into(o, "deltaNeutralOrderType", "deltaNeutralAuxPrice")
    if o.deltaNeutralOrderType:
        c.into(o, "deltaNeutralConId", "deltaNeutralSettlingFirm", "deltaNeutralClearingAccount")
        c.into(o, "deltaNeutralClearingIntent", "deltaNeutralOpenClose", "deltaNeutralShortSale")
        c.into(o, "deltaNeutralShortSaleSlot", "deltaNeutralDesignatedLocation")
    c.into(o, "continuousUpdate", "referencePriceType", "trailStopPrice", "trailingPercent")
    c.into(o, "scaleInitLevelSize", "scaleSubsLevelSize", "scalePriceIncrement")
    if 0 < o.scalePriceIncrement < UNSET_DOUBLE:
        c.into(o, "scalePriceAdjustValue", "scalePriceAdjustInterval", "scaleProfitOffset")
        c.into(o, "scaleAutoReset", "scaleInitPosition", "scaleInitFillQty", "scaleRandomPercent")
    c.into(o, "scaleTable", "activeStartTime", "activeStopTime", "hedgeType")
    if o.hedgeType:
        c.into(o, "hedgeParam")
    c.into(o, "optOutSmartRouting", "clearingAccount", "clearingIntent", "notHeld")
    _delta_neutral(c, contract)
    c.into(o, "algoStrategy")
    if o.algoStrategy:
        o.algoParams = [TagValue(c.text(), c.text()) for _ in range(c.integer())]
    c.into(o, "algoId", "whatIf")
    c.text()  # orderMiscOptions
    c.into(o, "solicited", "randomizeSize", "randomizePrice")
    if o.orderType == "PEG BENCH":
        c.into(o, "referenceContractId", "isPeggedChangeAmountDecrease", "peggedChangeAmount")
        c.into(o, "referenceChangeAmount", "referenceExchangeId")
    _conditions(c, o)
    c.into(o, "adjustedOrderType", "triggerPrice", "lmtPriceOffset", "adjustedStopPrice")
    c.into(o, "adjustedStopLimitPrice", "adjustedTrailingAmount", "adjustableTrailingUnit")
    c.into(o, "extOperator")
    o.softDollarTier.name = c.text()
    o.softDollarTier.val = c.text()
    c.into(o, "cashQty", "mifid2DecisionMaker", "mifid2DecisionAlgo", "mifid2ExecutionTrader")
    c.into(o, "mifid2ExecutionAlgo", "dontUseAutoPriceForHedge", "isOmsContainer")
    c.into(o, "discretionaryUpToLimitPrice", "usePriceMgmtAlgo")
    _versioned_order_tail(c, v, contract, o)
    return PlaceOrder(order_id, contract, o)


def _bag_order_parts(c: Cursor, contract: Contract, o: Order) -> None:
    contract.comboLegs = []
    for _ in range(c.integer()):
        leg = ComboLeg()
        c.into(leg, "conId", "ratio", "action", "exchange", "openClose", "shortSaleSlot")
        c.into(leg, "designatedLocation", "exemptCode")
        contract.comboLegs.append(leg)
    o.orderComboLegs = []
    for _ in range(c.integer()):
        leg_price = OrderComboLeg()
        c.into(leg_price, "price")
        o.orderComboLegs.append(leg_price)
    o.smartComboRoutingParams = [TagValue(c.text(), c.text()) for _ in range(c.integer())]


def _conditions(c: Cursor, o: Order) -> None:
    count = c.integer()
    if count <= 0:
        return
    if count > 1000:
        raise c.error(f"implausible condition count {count}")
    for _ in range(count):
        cond_type = c.integer()
        try:
            cls = OrderCondition.createClass(cond_type)
        except KeyError:
            raise c.error(f"unknown order condition type {cond_type}") from None
        cond = cls()
        names = [f.name for f in dataclasses.fields(cls)][1:]  # condType already read
        c.into(cond, *names)
        o.conditions.append(cond)
    c.into(o, "conditionsIgnoreRth", "conditionsCancelOrder")


def _versioned_order_tail(c: Cursor, v: int, contract: Contract, o: Order) -> None:
    if v >= 158:
        c.into(o, "duration")
    if v >= 160:
        c.into(o, "postToAts")
    if v >= 162:
        c.into(o, "autoCancelParent")
    if v >= 166:
        c.into(o, "advancedErrorOverride")
    if v >= 169:
        c.into(o, "manualOrderTime")
    if v >= 170:
        if contract.exchange == "IBKRATS":
            c.into(o, "minTradeQty")
        if o.orderType == "PEG BEST":
            c.into(o, "minCompeteSize", "competeAgainstBestOffset")
            if o.competeAgainstBestOffset == math.inf:
                c.into(o, "midOffsetAtWhole", "midOffsetAtHalf")
        elif o.orderType == "PEG MID":
            c.into(o, "midOffsetAtWhole", "midOffsetAtHalf")


# ---- dispatch ---------------------------------------------------------------------------

PARSERS: dict[int, Callable[[Cursor, int], Any]] = {
    1: _req_mkt_data,
    2: _versioned_req(CancelMktData),
    3: _place_order,
    4: _cancel_order,
    5: _no_args(ReqOpenOrders),
    6: _req_account_updates,
    7: _req_executions,
    8: _req_ids,
    9: _req_contract_details,
    10: _unsupported("reqMktDepth", versioned=True),
    11: _ignored,  # cancelMktDepth
    12: _ignored,  # reqNewsBulletins
    13: _ignored,  # cancelNewsBulletins
    14: _ignored,  # setServerLogLevel
    15: _req_auto_open_orders,
    16: _no_args(ReqAllOpenOrders),
    17: _no_args(ReqManagedAccts),
    18: _unsupported("requestFA", versioned=True, has_req_id=False),
    19: _unsupported("replaceFA", versioned=True, has_req_id=False),
    20: _req_historical_data,
    21: _unsupported("exerciseOptions", versioned=True),
    22: _req_scanner_subscription,
    23: _versioned_req(CancelScannerSubscription),
    24: _no_args(ReqScannerParameters),
    25: _versioned_req(CancelHistoricalData),
    49: _no_args(ReqCurrentTime),
    50: _req_real_time_bars,
    51: _versioned_req(CancelRealTimeBars),
    52: _req_fundamental_data,
    53: _versioned_req(CancelFundamentalData),
    54: _unsupported("calculateImpliedVolatility", versioned=True),
    55: _unsupported("calculateOptionPrice", versioned=True),
    56: _ignored,
    57: _ignored,
    58: _no_args(ReqGlobalCancel),
    59: _req_market_data_type,
    61: _no_args(ReqPositions),
    62: _req_account_summary,
    63: _versioned_req(CancelAccountSummary),
    64: _no_args(CancelPositions),
    65: _ignored,
    66: _ignored,
    67: _unsupported("queryDisplayGroups", versioned=True),
    68: _unsupported("subscribeToGroupEvents", versioned=True),
    69: _ignored,
    70: _ignored,
    72: _ignored,
    73: _ignored,
    74: _req_positions_multi,
    75: _versioned_req(CancelPositionsMulti),
    76: _req_account_updates_multi,
    77: _versioned_req(CancelAccountUpdatesMulti),
    78: _unsupported("reqSecDefOptParams", versioned=False),
    79: _unsupported("reqSoftDollarTiers", versioned=False),
    80: _unsupported("reqFamilyCodes", versioned=False, has_req_id=False),
    81: _req_matching_symbols,
    82: _unsupported("reqMktDepthExchanges", versioned=False, has_req_id=False),
    83: _unsupported("reqSmartComponents", versioned=False),
    84: _unsupported("reqNewsArticle", versioned=False),
    85: _unsupported("reqNewsProviders", versioned=False, has_req_id=False),
    86: _unsupported("reqHistoricalNews", versioned=False),
    87: _req_head_time_stamp,
    88: _unsupported("reqHistogramData", versioned=False),
    89: _ignored,  # cancelHistogramData
    90: _unversioned_req(CancelHeadTimeStamp),
    91: _req_market_rule,
    92: _req_pnl,
    93: _unversioned_req(CancelPnL),
    94: _req_pnl_single,
    95: _unversioned_req(CancelPnLSingle),
    96: _unsupported("reqHistoricalTicks", versioned=False),
    97: _req_tick_by_tick,
    98: _unversioned_req(CancelTickByTickData),
    99: _req_completed_orders,
    100: _unsupported("reqWshMetaData", versioned=False),
    101: _ignored,
    102: _unsupported("reqWshEventData", versioned=False),
    103: _ignored,
    104: _unversioned_req(ReqUserInfo),
}


def parse(fields: list[str], server_version: int) -> Request:
    """One request from its fields; raises UnknownMessage or MalformedRequest."""
    if not fields:
        raise MalformedRequest(-1, "empty message")
    try:
        msg_id = int(fields[0])
    except ValueError:
        raise UnknownMessage(fields[0]) from None
    parser = PARSERS.get(msg_id) if msg_id != 71 else _start_api
    if parser is None:
        raise UnknownMessage(fields[0])
    cursor = Cursor(fields, msg_id)
    try:
        return parser(cursor, server_version)
    except MalformedRequest:
        raise
    except (ValueError, TypeError, OverflowError, IndexError) as e:
        raise cursor.error(str(e)) from None
