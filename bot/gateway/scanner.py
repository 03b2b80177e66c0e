"""Market scanners on the wire: reqScannerParameters, and the simulated world's scans
(bot/sim/scanner.py ranks them) with IB's error 162 for what it does not offer.
https://interactivebrokers.github.io/tws-api/market_scanners.html
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import datetime

from ib_insync import ScannerSubscription

from bot.gateway import ib_messages as M
from bot.sim.instruments import Instruments
from bot.sim.market import Market
from bot.sim.scanner import (
    INSTRUMENT,
    LOCATION_NAMES,
    LOCATIONS,
    MAX_ROWS,
    SCAN_CODES,
    ScanError,
    ScanRow,
)
from bot.sim.scanner import run_scan as sim_scan

__all__ = ["LOCATIONS", "MAX_ROWS", "ScanRow", "ScannerError", "run_scan", "scanner_parameters_xml"]


class ScannerError(Exception):
    """The subscription cannot run: answer its reqId with ``code`` and ``text``."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


def run_scan(
    market: Market, instruments: Instruments, sub: ScannerSubscription, now: datetime
) -> list[ScanRow]:
    """The simulated market's scan (bot/sim/scanner.py); what it does not offer is IB's 162."""
    try:
        return sim_scan(market, instruments, sub, now)
    except ScanError as e:
        raise ScannerError(M.HMDS_ERROR, M.scanner_disabled_text(e.what)) from None


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
    _text(el, displayName=LOCATION_NAMES[code], locationCode=code, instruments=INSTRUMENT)
    _text(el, routeExchange="SMART", delayedOnly="false", access="unrestricted")


def _text(parent: ET.Element, **children: str) -> None:
    for tag, value in children.items():
        ET.SubElement(parent, tag).text = value
