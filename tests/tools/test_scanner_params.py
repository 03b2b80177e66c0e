"""The scanner parameters parser, on an excerpt in the structure of IB's real document and on
the simulated gateway's, which must list exactly what its scanner runs."""

from __future__ import annotations

import pytest

from bot.gateway.scanner import INSTRUMENT, LOCATIONS, SCAN_CODES, scanner_parameters_xml
from bot.tools.scanner_params import ScannerXmlError, parse_scanner_parameters

# Cut from the shape of a real ScanParameterResponse (several MB in full): two instrument
# lists (the second the "full" one, repeating types), filters wrapped over lines, locations
# three levels deep without varName on Location, scan types listing many instruments.
IB_EXCERPT = """<?xml version="1.0" encoding="UTF-8"?>
<ScanParameterResponse>
  <InstrumentList varName="instrumentList">
    <Instrument>
      <name>US Stocks</name>
      <type>STK</type>
      <filters>AFTERHRSCHANGEPERC,AVGOPTVOLUME,
                PRICE,
                VOLUME</filters>
      <group>STK.GLOBAL</group>
      <shortName>US</shortName>
      <cloudScanNotSupported>false</cloudScanNotSupported>
    </Instrument>
    <Instrument>
      <name>US Futures</name>
      <type>FUT.US</type>
      <filters>PRICE,VOLUME</filters>
    </Instrument>
  </InstrumentList>
  <InstrumentList varName="fullInstrumentList">
    <Instrument>
      <name>US Stocks</name>
      <type>STK</type>
      <filters>PRICE</filters>
    </Instrument>
    <Instrument>
      <name>America Non-US Stocks</name>
      <type>STOCK.NA</type>
      <filters>PRICE</filters>
    </Instrument>
  </InstrumentList>
  <LocationTree varName="locationTree">
    <Location>
      <displayName>US Stocks</displayName>
      <tree>false</tree>
      <locationCode>STK.US</locationCode>
      <instruments>STK</instruments>
      <routeExchange>SMART</routeExchange>
      <delayedOnly>false</delayedOnly>
      <access>unrestricted</access>
      <LocationTree varName="locationTree">
        <Location>
          <displayName>Listed/NASDAQ</displayName>
          <locationCode>STK.US.MAJOR</locationCode>
          <instruments>STK</instruments>
          <LocationTree varName="locationTree">
            <Location>
              <displayName>NYSE</displayName>
              <locationCode>STK.NYSE</locationCode>
              <instruments>STK</instruments>
            </Location>
          </LocationTree>
        </Location>
      </LocationTree>
    </Location>
    <Location>
      <displayName>America Non-US Stocks</displayName>
      <locationCode>STK.NA</locationCode>
      <instruments>STOCK.NA</instruments>
      <routeExchange>TSE</routeExchange>
      <LocationTree varName="locationTree">
        <Location>
          <displayName>Canada</displayName>
          <locationCode>STK.NA.CANADA</locationCode>
          <instruments>STOCK.NA</instruments>
          <delayedOnly>yes</delayedOnly>
          <access>restricted;s=275;s=444</access>
        </Location>
      </LocationTree>
    </Location>
  </LocationTree>
  <ScanTypeList varName="scanTypeList">
    <ScanType>
      <displayName>Top % Gainers</displayName>
      <scanCode>TOP_PERC_GAIN</scanCode>
      <instruments>STK,STOCK.NA,STOCK.EU,FUT.US</instruments>
      <absoluteColumns>false</absoluteColumns>
      <Columns varName="columns">
        <Column varName="column"><colId>31</colId><name>Change %</name></Column>
      </Columns>
      <supportsSorting>true</supportsSorting>
      <respSizeLimit>2147483647</respSizeLimit>
      <access>unrestricted</access>
    </ScanType>
    <ScanType>
      <displayName>Top Close-to-Open % Gainers</displayName>
      <scanCode>HIGH_OPEN_GAP</scanCode>
      <instruments>STK,STOCK.NA</instruments>
    </ScanType>
  </ScanTypeList>
</ScanParameterResponse>
"""


def test_parses_a_real_ib_document_structure() -> None:
    p = parse_scanner_parameters(IB_EXCERPT)
    assert [(i.type, i.name) for i in p.instruments] == [
        ("STK", "US Stocks"),
        ("FUT.US", "US Futures"),
        ("STOCK.NA", "America Non-US Stocks"),
    ]
    assert p.instruments[0].filters == ("AFTERHRSCHANGEPERC", "AVGOPTVOLUME", "PRICE", "VOLUME")
    assert [(loc.code, loc.name, loc.depth) for loc in p.locations] == [
        ("STK.US", "US Stocks", 0),
        ("STK.US.MAJOR", "Listed/NASDAQ", 1),
        ("STK.NYSE", "NYSE", 2),
        ("STK.NA", "America Non-US Stocks", 0),
        ("STK.NA.CANADA", "Canada", 1),
    ]
    assert [(t.code, t.name, t.instruments) for t in p.scan_types] == [
        ("TOP_PERC_GAIN", "Top % Gainers", ("STK", "STOCK.NA", "STOCK.EU", "FUT.US")),
        ("HIGH_OPEN_GAP", "Top Close-to-Open % Gainers", ("STK", "STOCK.NA")),
    ]
    na = p.for_instrument("STOCK.NA")
    assert [loc.code for loc in na.locations] == ["STK.NA", "STK.NA.CANADA"]
    assert [t.code for t in na.scan_types] == ["TOP_PERC_GAIN", "HIGH_OPEN_GAP"]


def test_the_simulated_gateway_lists_exactly_what_it_scans() -> None:
    p = parse_scanner_parameters(scanner_parameters_xml())
    assert [i.type for i in p.instruments] == [INSTRUMENT]
    assert sorted(loc.code for loc in p.locations) == sorted(LOCATIONS)
    assert [(t.code, t.name) for t in p.scan_types] == [
        (c.code, c.display_name) for c in SCAN_CODES.values()
    ]
    assert all(t.instruments == (INSTRUMENT,) for t in p.scan_types)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("<ScanParameterResponse>", "not XML"),
        ("<ReportSnapshot/>", "root element is <ReportSnapshot>, not <ScanParameterResponse>"),
    ],
)
def test_not_a_parameters_document(text: str, message: str) -> None:
    with pytest.raises(ScannerXmlError, match=message):
        parse_scanner_parameters(text)
