"""Market scanners over the simulated market: reqScannerParameters and reqScannerSubscription.

Rows are ranked from each instrument's trading day so far (``Market.trading_day_stats``) at
the simulated time: % change from the previous close, open gap from the previous close, or
volume. Gainers/gappers list only positive moves and losers only negative ones, as IB's do;
ties keep the instruments-file order. Ranks start at 0 (ib_insync clears its list on rank 0).
https://interactivebrokers.github.io/tws-api/market_scanners.html
"""

from __future__ import annotations

import math
import xml.etree.ElementTree as ET
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from ib_insync import ScannerSubscription
from ib_insync.util import UNSET_DOUBLE, UNSET_INTEGER

from bot.gateway import ib_messages as M
from bot.sim.instruments import Instrument, Instruments
from bot.sim.market import DayStats, Market

MAX_ROWS = 50  # IB's cap on numberOfRows

INSTRUMENT = "STK"
# location code -> which instruments it covers
LOCATIONS: dict[str, Callable[[Instrument], bool]] = {
    "STK.US": lambda i: i.currency == "USD",
    "STK.US.MAJOR": lambda i: i.currency == "USD",
    "STK.NASDAQ": lambda i: i.primary_exchange == "NASDAQ",
}
_LOCATION_NAMES = {
    "STK.US": "US Stocks",
    "STK.US.MAJOR": "Listed/NASDAQ",
    "STK.NASDAQ": "NASDAQ",
}


@dataclass(frozen=True, slots=True)
class ScanCode:
    code: str
    display_name: str
    value: Callable[[DayStats], float]  # higher ranks first
    column: str


def _neg(f: Callable[[DayStats], float]) -> Callable[[DayStats], float]:
    return lambda s: -f(s)


SCAN_CODES: dict[str, ScanCode] = {
    c.code: c
    for c in (
        ScanCode("TOP_PERC_GAIN", "Top % Gainers", lambda s: s.change_pct, "CHANGEPERC"),
        ScanCode("TOP_PERC_LOSE", "Top % Losers", _neg(lambda s: s.change_pct), "CHANGEPERC"),
        ScanCode(
            "HIGH_OPEN_GAP", "Top Close-to-Open % Gainers", lambda s: s.gap_pct, "OPENGAPPERC"
        ),
        ScanCode(
            "LOW_OPEN_GAP", "Top Close-to-Open % Losers", _neg(lambda s: s.gap_pct), "OPENGAPPERC"
        ),
        ScanCode("MOST_ACTIVE", "Most Active", lambda s: s.volume, "VOLUME"),
    )
}


class ScannerError(Exception):
    """The subscription cannot run: answer its reqId with ``code`` and ``text``."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


@dataclass(frozen=True, slots=True)
class ScanRow:
    rank: int
    instrument: Instrument


def run_scan(
    market: Market, instruments: Instruments, sub: ScannerSubscription, now: datetime
) -> list[ScanRow]:
    """One scan at ``now``; raises ScannerError for an instrument, location or scan code it
    does not offer (the same ones ``scanner_parameters_xml`` lists)."""
    scan, covers = _validate(sub)
    above_price = _set(sub.abovePrice, UNSET_DOUBLE)
    below_price = _set(sub.belowPrice, UNSET_DOUBLE)
    above_volume = _set(sub.aboveVolume, UNSET_INTEGER)
    scored: list[tuple[float, Instrument]] = []
    for con_id in market.con_ids():
        inst = instruments.by_con_id(con_id)
        if inst.sec_type != INSTRUMENT or not covers(inst):
            continue
        stats = market.trading_day_stats(con_id, now)
        value = scan.value(stats)
        if not math.isfinite(value) or value <= 0:  # no data yet, or not this list's side
            continue
        if above_price is not None and not stats.last >= above_price:
            continue
        if below_price is not None and not stats.last <= below_price:
            continue
        if above_volume is not None and not stats.volume >= above_volume:
            continue
        scored.append((value, inst))
    scored.sort(key=lambda vi: -vi[0])  # stable: ties keep the instruments' order
    rows = _row_count(sub.numberOfRows)
    return [ScanRow(rank, inst) for rank, (_, inst) in enumerate(scored[:rows])]


def _validate(sub: ScannerSubscription) -> tuple[ScanCode, Callable[[Instrument], bool]]:
    if sub.instrument != INSTRUMENT:
        raise ScannerError(M.HMDS_ERROR, M.scanner_disabled_text(f"Instrument {sub.instrument}"))
    covers = LOCATIONS.get(sub.locationCode)
    if covers is None:
        raise ScannerError(M.HMDS_ERROR, M.scanner_disabled_text(f"Location {sub.locationCode}"))
    scan = SCAN_CODES.get(sub.scanCode)
    if scan is None:
        raise ScannerError(
            M.HMDS_ERROR, M.scanner_disabled_text(f"Scanner type with code {sub.scanCode}")
        )
    return scan, covers


def _set(value: object, unset: float) -> float | None:
    """A filter value, or None when the client left it unset (sent as "" on the wire)."""
    if value is None or value == "":
        return None
    f = float(value)  # type: ignore[arg-type]  # int, float or a numeric string
    return None if f == float(unset) or math.isnan(f) else f


def _row_count(n: object) -> int:
    """numberOfRows: -1 (unset) or anything above IB's cap gives the cap."""
    rows = -1 if n is None or n == "" else int(n)  # type: ignore[call-overload]
    return MAX_ROWS if rows <= 0 else min(rows, MAX_ROWS)


# ---- reqScannerParameters ----------------------------------------------------------------------


def scanner_parameters_xml() -> str:
    """The XML reqScannerParameters answers: IB's ScanParameterResponse, cut down to what the
    simulator offers: exactly the instruments, locations and scan codes ``run_scan`` accepts, in
    IB's structure (InstrumentList/Instrument/type, LocationTree/Location/LocationTree/Location/
    locationCode, ScanTypeList/ScanType/scanCode; IB's Location elements carry no varName)."""
    root = ET.Element("ScanParameterResponse")
    instruments = ET.SubElement(root, "InstrumentList", varName="instrumentList")
    inst = ET.SubElement(instruments, "Instrument")
    _text(inst, name="US Stocks", type=INSTRUMENT, filters="PRICE,VOLUME", group="STK.GLOBAL")
    _text(inst, shortName="US")
    tree = ET.SubElement(root, "LocationTree", varName="locationTree")
    top = ET.SubElement(tree, "Location")
    _location_fields(top, "STK.US")
    sub_tree = ET.SubElement(top, "LocationTree", varName="locationTree")
    for code in ("STK.US.MAJOR", "STK.NASDAQ"):
        _location_fields(ET.SubElement(sub_tree, "Location"), code)
    types = ET.SubElement(root, "ScanTypeList", varName="scanTypeList")
    for scan in SCAN_CODES.values():
        el = ET.SubElement(types, "ScanType")
        _text(el, displayName=scan.display_name, scanCode=scan.code, instruments=INSTRUMENT)
        _text(el, absoluteColumns="false", supportsSorting="true", respSizeLimit=str(MAX_ROWS))
        _text(el, snapshotSizeLimit=str(MAX_ROWS), searchDefault="false", access="unrestricted")
    filters = ET.SubElement(root, "FilterList", varName="filterList")
    for fid, category, codes in (
        ("PRICE", "Price", ("priceAbove", "priceBelow")),
        ("VOLUME", "Volume", ("volumeAbove",)),
    ):
        rf = ET.SubElement(filters, "RangeFilter", varName="rangeFilter")
        _text(rf, id=fid, category=category, histogram="false", access="unrestricted")
        for code in codes:
            af = ET.SubElement(rf, "AbstractField", type="scanner.filter.DoubleField")
            _text(af, code=code, displayName=code, varName=code)
    ET.indent(root)
    body = ET.tostring(root, encoding="unicode")
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + body


def _location_fields(el: ET.Element, code: str) -> None:
    _text(el, displayName=_LOCATION_NAMES[code], locationCode=code, instruments=INSTRUMENT)
    _text(el, routeExchange="SMART", delayedOnly="false", access="unrestricted")


def _text(parent: ET.Element, **children: str) -> None:
    for tag, value in children.items():
        ET.SubElement(parent, tag).text = value
