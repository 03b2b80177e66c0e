"""IB's scanner parameters document (reqScannerParameters' ScanParameterResponse XML), parsed.

The document lists the instruments (``InstrumentList/Instrument``; IB sends two lists, the
second the "full" one, so instruments are kept once by type), the locations as a tree
(``LocationTree/Location``, each possibly holding its own ``LocationTree``) and the scan codes
(``ScanTypeList/ScanType``). Real documents are several megabytes with hundreds of scan codes;
the simulated gateway's is the same structure cut down to what it serves.
https://interactivebrokers.github.io/tws-api/market_scanners.html
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from dataclasses import dataclass


class ScannerXmlError(ValueError):
    """The text is not a scanner parameters document."""


@dataclass(frozen=True, slots=True)
class ScanInstrument:
    type: str  # the value of ScannerSubscription.instrument, e.g. "STK"
    name: str
    filters: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScanLocation:
    code: str  # the value of ScannerSubscription.locationCode, e.g. "STK.US.MAJOR"
    name: str
    instruments: tuple[str, ...]
    depth: int  # 0 for a top-level location, 1 for one inside it...


@dataclass(frozen=True, slots=True)
class ScanType:
    code: str  # the value of ScannerSubscription.scanCode, e.g. "HIGH_OPEN_GAP"
    name: str
    instruments: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ScannerParameters:
    instruments: tuple[ScanInstrument, ...]
    locations: tuple[ScanLocation, ...]  # depth-first, parents before their children
    scan_types: tuple[ScanType, ...]

    def for_instrument(self, instrument: str) -> ScannerParameters:
        """Only what applies to one instrument type."""
        return ScannerParameters(
            tuple(i for i in self.instruments if i.type == instrument),
            tuple(loc for loc in self.locations if instrument in loc.instruments),
            tuple(t for t in self.scan_types if instrument in t.instruments),
        )


def parse_scanner_parameters(xml: str) -> ScannerParameters:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as e:
        raise ScannerXmlError(f"not XML: {e}") from None
    if root.tag != "ScanParameterResponse":
        raise ScannerXmlError(f"root element is <{root.tag}>, not <ScanParameterResponse>")
    instruments: dict[str, ScanInstrument] = {}
    for el in root.iterfind("InstrumentList/Instrument"):
        kind = _text(el, "type")
        if kind and kind not in instruments:
            instruments[kind] = ScanInstrument(kind, _text(el, "name"), _list(el, "filters"))
    locations = tuple(loc for tree in root.iterfind("LocationTree") for loc in _locations(tree, 0))
    scan_types = tuple(
        ScanType(_text(el, "scanCode"), _text(el, "displayName"), _list(el, "instruments"))
        for el in root.iterfind("ScanTypeList/ScanType")
        if _text(el, "scanCode")
    )
    return ScannerParameters(tuple(instruments.values()), locations, scan_types)


def _locations(tree: ET.Element, depth: int) -> Iterator[ScanLocation]:
    for el in tree.iterfind("Location"):
        code = _text(el, "locationCode")
        if code:
            yield ScanLocation(code, _text(el, "displayName"), _list(el, "instruments"), depth)
        for sub in el.iterfind("LocationTree"):
            yield from _locations(sub, depth + 1)


def _text(el: ET.Element, tag: str) -> str:
    return (el.findtext(tag) or "").strip()


def _list(el: ET.Element, tag: str) -> tuple[str, ...]:
    """A comma separated field; IB's long ones are wrapped over lines."""
    return tuple(part.strip() for part in _text(el, tag).split(",") if part.strip())
