"""Handlers of contract and market data requests: contract details, historical bars, head
timestamp, real-time bars, market data, tick-by-tick, scanners, fundamentals, current time,
market rules, symbols.

Errors are worded as IB words them: 200 for an unknown contract, 321 for a request that does
not validate, 162 when the historical data service has nothing, 354 without market data.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ib_insync import Contract

from bot.gateway import ib_messages as M
from bot.gateway import inbound as req
from bot.gateway import outbound as out
from bot.gateway.pacing_rules import HistKey
from bot.gateway.scanner import ScannerError, scanner_parameters_xml
from bot.gateway.streams import RT_BAR_SECONDS, TBT_TYPES, BarSub, ScanSub
from bot.gateway.synthetic_reports import NOT_AVAILABLE, FundamentalsUnavailable, fundamental_xml
from bot.gateway.timefmt import bar_date, epoch, head_timestamp_text, ib_datetime, parse_ib_datetime
from bot.sim.bars import ADJUSTED_LAST, check_what_to_show
from bot.sim.instruments import Instrument

if TYPE_CHECKING:
    from bot.gateway.session import Session

NO_SECURITY = "No security definition has been found for the request"


def resolve(s: Session, req_id: int, contract: Contract) -> Instrument | None:
    """The one instrument a request's contract means, or error 200 (as IB answers)."""
    found = s.gw.instruments.match(contract)
    if len(found) == 1:
        return found[0]
    if found:
        s.error(
            req_id, 200, f"The contract description specified for {contract.symbol} is ambiguous."
        )
    else:
        s.error(req_id, 200, NO_SECURITY)
    return None


def _with_data(
    s: Session, req_id: int, contract: Contract, code: int, text: str
) -> Instrument | None:
    inst = resolve(s, req_id, contract)
    if inst is not None and not s.gw.market.has_data(inst.con_id):
        s.error(req_id, code, f"{text} (no simulated data for {inst.local_symbol})")
        return None
    return inst


def contract_details(s: Session, r: req.ReqContractDetails) -> None:
    found = s.gw.instruments.match(r.contract)
    if not found:
        s.error(r.req_id, 200, NO_SECURITY)
        return
    now = s.gw.clock.now()
    for inst in found:
        cd = inst.contract_details(now)
        if cd.contract is not None and r.contract.exchange:
            cd.contract.exchange = r.contract.exchange
        s.send(out.contract_details(r.req_id, cd, s.version))
    s.send(out.contract_details_end(r.req_id))


def historical_data(s: Session, r: req.ReqHistoricalData) -> None:
    hmds = "Historical Market Data Service error message:HMDS query returned no data"
    inst = _with_data(s, r.req_id, r.contract, 162, hmds)
    if inst is None:
        return
    if r.keep_up_to_date and r.end:
        s.error(
            r.req_id,
            321,
            "Error validating request.-'bX' : cause - End date not supported with live updates",
        )
        return
    if r.what_to_show.upper() == ADJUSTED_LAST and (r.keep_up_to_date or r.end):
        if r.keep_up_to_date:
            s.error(r.req_id, 321, M.TEXT_ADJUSTED_LAST_LIVE)
        else:
            s.error(r.req_id, M.HMDS_ERROR, M.TEXT_ADJUSTED_LAST_END)
        return
    gw, now = s.gw, s.gw.clock.now()
    key = HistKey(
        inst.con_id, r.contract.exchange, r.what_to_show, r.bar_size, r.duration, r.end, r.use_rth
    )
    open_id = r.req_id if r.keep_up_to_date else None
    violation = gw.pacer.check(s.client_id, key, gw.wall(), open_id)
    if violation is not None:
        s.error(r.req_id, violation.code, violation.text)
        return
    try:
        end = min(parse_ib_datetime(r.end, gw.tz) or now, now)
        bars = gw.market.history.historical_bars(
            inst.con_id, end, r.duration, r.bar_size, r.what_to_show, r.use_rth, now
        )
    except (ValueError, OverflowError) as e:
        s.error(r.req_id, 321, str(e))
        return
    if not bars:
        s.error(r.req_id, 162, f"{hmds}: {inst.local_symbol}@{inst.exchange} {r.what_to_show}")
        return
    rows = [
        out.bar_fields(
            bar_date(b.date, r.format_date, gw.tz),
            b.open,
            b.high,
            b.low,
            b.close,
            b.volume,
            b.average,
            b.barCount,
        )
        for b in bars
    ]
    start = bar_date(bars[0].date, 1, gw.tz)
    s.send(out.historical_data(r.req_id, start, ib_datetime(end, gw.tz), rows))
    if r.keep_up_to_date:
        sub = BarSub(s, r.req_id, inst, r.what_to_show, r.use_rth, r.bar_size, r.format_date)
        gw.streams.add_keep_up_to_date(sub, bars[-1], now)


def head_timestamp(s: Session, r: req.ReqHeadTimeStamp) -> None:
    inst = _with_data(
        s,
        r.req_id,
        r.contract,
        162,
        "Historical Market Data Service error message:HMDS query returned no data",
    )
    if inst is None:
        return
    try:
        t = s.gw.market.history.head_timestamp(inst.con_id, r.what_to_show, r.use_rth)
    except ValueError as e:
        s.error(r.req_id, 321, str(e))
        return
    s.send(out.head_timestamp(r.req_id, head_timestamp_text(t, r.format_date, s.gw.tz)))


def real_time_bars(s: Session, r: req.ReqRealTimeBars) -> None:
    inst = _with_data(s, r.req_id, r.contract, 354, "Requested market data is not subscribed.")
    if inst is None:
        return
    if r.bar_size != RT_BAR_SECONDS:
        s.error(
            r.req_id,
            321,
            "Error validating request.-'bY' : cause - Invalid bar size "
            f"{r.bar_size}: real-time bars are 5 seconds",
        )
        return
    try:
        what = check_what_to_show(r.what_to_show)
    except ValueError as e:
        s.error(r.req_id, 321, str(e))
        return
    s.gw.streams.add_real_time_bars(s, r.req_id, inst, what, r.use_rth)


def mkt_data(s: Session, r: req.ReqMktData) -> None:
    inst = _with_data(s, r.req_id, r.contract, 354, "Requested market data is not subscribed.")
    if inst is None:
        return
    now = s.gw.clock.now()
    s.gw.streams.add_mkt_data(
        s,
        r.req_id,
        inst,
        now,
        snapshot=r.snapshot or r.regulatory_snapshot,
        data_type=_reported_type(s, inst),
    )


def _reported_type(s: Session, inst: Instrument) -> int:
    """The simulator's data is always live; "frozen" (2) when asked for and not trading."""
    wants_frozen = s.market_data_type in (2, 4)
    return 2 if wants_frozen and not inst.is_trading(s.gw.clock.now()) else 1


def market_data_type(s: Session, r: req.ReqMarketDataType) -> None:
    s.market_data_type = r.market_data_type
    for sub in s.gw.streams.mkt_data_subs(s):
        inst = s.gw.instruments.by_con_id(sub.con_id)
        s.send(out.market_data_type(sub.req_id, _reported_type(s, inst)))


def tick_by_tick(s: Session, r: req.ReqTickByTickData) -> None:
    inst = _with_data(s, r.req_id, r.contract, 354, "Requested market data is not subscribed.")
    if inst is None:
        return
    kind = TBT_TYPES.get(r.tick_type)
    if kind is None:
        s.error(
            r.req_id,
            321,
            f"Error validating request.-'bZ' : cause - Invalid tick type "
            f"{r.tick_type!r} (Last, AllLast, BidAsk, MidPoint)",
        )
        return
    s.gw.streams.add_tick_by_tick(s, r.req_id, inst, kind, s.gw.clock.now())


def cancel_ticks(s: Session, r: Any) -> None:
    s.gw.streams.cancel_ticks(s, r.req_id)


def cancel_bars(s: Session, r: Any) -> None:
    s.gw.streams.cancel_bars(s, r.req_id)
    s.gw.pacer.closed(s.client_id, r.req_id)


def scanner_parameters(s: Session, r: req.ReqScannerParameters) -> None:
    s.send(out.scanner_parameters(scanner_parameters_xml()))


def scanner_subscription(s: Session, r: req.ReqScannerSubscription) -> None:
    sub = ScanSub(s, r.req_id, r.subscription)
    try:
        s.gw.streams.add_scan(sub, s.gw.clock.now())
    except ScannerError as e:
        s.error(r.req_id, e.code, e.text)


def cancel_scanner(s: Session, r: req.CancelScannerSubscription) -> None:
    if s.gw.streams.cancel_scan(s, r.req_id):
        s.error(r.req_id, M.HMDS_ERROR, M.scanner_cancelled_text(r.req_id))


def fundamental_data(s: Session, r: req.ReqFundamentalData) -> None:
    """Answered at once (a synthetic report or error 430), so a cancel has nothing to stop."""
    inst = resolve(s, r.req_id, r.contract)
    if inst is None:
        return
    now = s.gw.clock.now()
    try:
        xml = fundamental_xml(inst, r.report_type, now, s.gw.world.last_price(inst.con_id, now))
    except FundamentalsUnavailable as e:
        s.error(r.req_id, NOT_AVAILABLE, str(e))
        return
    s.send(out.fundamental_data(r.req_id, xml))


def current_time(s: Session, r: req.ReqCurrentTime) -> None:
    s.send(out.current_time(epoch(s.gw.clock.now())))


def market_rule(s: Session, r: req.ReqMarketRule) -> None:
    now = s.gw.clock.now()
    for inst in s.gw.instruments:
        rules = inst.contract_details(now).marketRuleIds.split(",")
        if str(r.market_rule_id) in rules:
            s.send(out.market_rule(r.market_rule_id, [(0.0, inst.min_tick)]))
            return
    s.send(out.market_rule(r.market_rule_id, []))


def matching_symbols(s: Session, r: req.ReqMatchingSymbols) -> None:
    pattern = r.pattern.upper()
    found = [
        (inst.contract(), inst.long_name)
        for inst in s.gw.instruments
        if inst.symbol.upper().startswith(pattern) or pattern in inst.long_name.upper()
    ]
    s.send(out.symbol_samples(r.req_id, found[:16], s.version))


def user_info(s: Session, r: req.ReqUserInfo) -> None:
    s.send(out.user_info(r.req_id))


def unsupported(s: Session, r: req.Unsupported) -> None:
    s.error(
        r.req_id,
        321,
        f"Error validating request: {r.name} is not supported by the simulated gateway.",
    )


HANDLERS: dict[type, Callable[[Session, Any], None]] = {
    req.ReqContractDetails: contract_details,
    req.ReqHistoricalData: historical_data,
    req.CancelHistoricalData: cancel_bars,
    req.ReqHeadTimeStamp: head_timestamp,
    req.CancelHeadTimeStamp: lambda s, r: None,
    req.ReqRealTimeBars: real_time_bars,
    req.CancelRealTimeBars: cancel_bars,
    req.ReqMktData: mkt_data,
    req.CancelMktData: cancel_ticks,
    req.ReqMarketDataType: market_data_type,
    req.ReqTickByTickData: tick_by_tick,
    req.CancelTickByTickData: cancel_ticks,
    req.ReqCurrentTime: current_time,
    req.ReqMarketRule: market_rule,
    req.ReqMatchingSymbols: matching_symbols,
    req.ReqUserInfo: user_info,
    req.Unsupported: unsupported,
    req.ReqScannerParameters: scanner_parameters,
    req.ReqScannerSubscription: scanner_subscription,
    req.CancelScannerSubscription: cancel_scanner,
    req.ReqFundamentalData: fundamental_data,
    req.CancelFundamentalData: lambda s, r: None,
    req.Ignored: lambda s, r: None,
}
