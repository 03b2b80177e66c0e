"""Fundamentals: the XML parsers (on excerpts in the structure of IB's real reports) and the
simulated gateway's SYNTHETIC reports, checked for consistency and served over the wire."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime

import pytest
from ib_insync import IB, Forex, RequestError, Stock

from bot.config.gateway import GatewaySettings
from bot.gateway.server import Gateway
from bot.gateway.synthetic_reports import (
    NOT_AVAILABLE,
    NOT_AVAILABLE_TEXT,
    SYNTHETIC_NOTE,
    Company,
    FundamentalsUnavailable,
    Period,
    figures,
    fundamental_xml,
    quarter_end,
)
from bot.sim.instruments import Instruments
from bot.tools.fundamentals_xml import parse_snapshot, parse_statements

STATEMENTS_EXCERPT = """<?xml version="1.0" encoding="UTF-8"?>
<ReportFinancialStatements Major="1" Minor="0" Revision="1">
  <CoIDs>
    <CoID Type="RepNo">A1B2C</CoID>
    <CoID Type="CompanyName">Example Industries Inc.</CoID>
  </CoIDs>
  <CoGeneralInfo>
    <ReportingCurrency Code="USD">U.S. Dollars</ReportingCurrency>
  </CoGeneralInfo>
  <FinancialStatements>
    <COAMap>
      <mapItem coaItem="SREV" statementType="INC" lineID="10" precision="1">Revenue</mapItem>
      <mapItem coaItem="NINC" statementType="INC" lineID="890" precision="1">Net Income</mapItem>
      <mapItem coaItem="SCOR" statementType="INC" lineID="90">Cost of Revenue, Total</mapItem>
      <mapItem coaItem="ATOT" statementType="BAL" lineID="380" precision="1">Total Assets</mapItem>
      <mapItem coaItem="OTLO" statementType="CAS" lineID="150">Cash from Operations</mapItem>
    </COAMap>
    <AnnualPeriods>
      <FiscalPeriod Type="Annual" EndDate="2023-09-30" FiscalYear="2023">
        <Statement Type="INC">
          <FPHeader><PeriodLength>12</PeriodLength><StatementDate>2023-09-30</StatementDate></FPHeader>
          <lineItem coaCode="NINC">96995.0</lineItem>
          <lineItem coaCode="SREV">383285.0</lineItem>
          <lineItem coaCode="SCOR">214137.0</lineItem>
        </Statement>
        <Statement Type="BAL">
          <FPHeader><StatementDate>2023-09-30</StatementDate></FPHeader>
          <lineItem coaCode="ATOT">352583.0</lineItem>
        </Statement>
      </FiscalPeriod>
      <FiscalPeriod Type="Annual" EndDate="2022-09-24" FiscalYear="2022">
        <Statement Type="INC">
          <FPHeader><PeriodLength>12</PeriodLength></FPHeader>
          <lineItem coaCode="SREV">394328.0</lineItem>
          <lineItem coaCode="NINC">99803.0</lineItem>
          <lineItem coaCode="XXXX">1.0</lineItem>
        </Statement>
      </FiscalPeriod>
    </AnnualPeriods>
    <InterimPeriods>
      <FiscalPeriod Type="Interim" EndDate="2023-12-30" FiscalYear="2024" FiscalPeriodNumber="1">
        <Statement Type="INC"><lineItem coaCode="SREV">119575.0</lineItem></Statement>
      </FiscalPeriod>
    </InterimPeriods>
  </FinancialStatements>
</ReportFinancialStatements>
"""

SNAPSHOT_EXCERPT = """<?xml version="1.0" encoding="UTF-8"?>
<ReportSnapshot Major="1" Minor="0" Revision="1">
  <CoIDs>
    <CoID Type="RepNo">A1B2C</CoID>
    <CoID Type="CompanyName">Example Industries Inc.</CoID>
    <CoID Type="CIKNo">0000123456</CoID>
  </CoIDs>
  <Issues>
    <Issue ID="1" Type="C" Desc="Common Stock" Order="1">
      <IssueID Type="Name">Ordinary Shares</IssueID>
      <IssueID Type="Ticker">EXMP</IssueID>
      <IssueID Type="ISIN">US0000000001</IssueID>
      <Exchange Code="NASD" Country="USA">NASDAQ</Exchange>
    </Issue>
  </Issues>
  <CoGeneralInfo>
    <Employees LastUpdated="2023-09-30">161000</Employees>
    <SharesOut Date="2024-01-19" TotalFloat="15441883000.0">15552752000.0</SharesOut>
    <ReportingCurrency Code="USD">U.S. Dollars</ReportingCurrency>
  </CoGeneralInfo>
  <TextInfo>
    <Text Type="Business Summary" lastModified="2024-01-01">Example designs things.</Text>
  </TextInfo>
  <peerInfo lastUpdated="2024-01-01">
    <IndustryInfo>
      <Industry type="TRBC" order="1" reported="0" code="5710602011"
        mnem="">Phones &amp; Handheld Devices</Industry>
      <Industry type="SIC" order="1" reported="0" code="3663">Radio &amp; T.V. Equipment</Industry>
    </IndustryInfo>
  </peerInfo>
  <Ratios PriceCurrency="USD" ReportingCurrency="USD" ExchangeRate="1.00000">
    <Group ID="Price and Volume">
      <Ratio FieldName="NPRICE" Type="N">191.56000</Ratio>
      <Ratio FieldName="PDATE" Type="D">2024-01-19T00:00:00</Ratio>
    </Group>
    <Group ID="Income Statement">
      <Ratio FieldName="MKTCAP" Type="N">2979261.00000</Ratio>
    </Group>
    <Group ID="Other Ratios">
      <Ratio FieldName="PEEXCLXOR" Type="N">31.12</Ratio>
    </Group>
  </Ratios>
</ReportSnapshot>
"""


def test_statements_tables_from_a_real_report_structure() -> None:
    st = parse_statements(STATEMENTS_EXCERPT)
    assert (st.company, st.currency, st.note) == ("Example Industries Inc.", "USD", "")
    inc = st.table("INC", "annual")
    assert list(inc.columns) == ["2023-09-30", "2022-09-24"]
    # COAMap line order, then a code it does not describe
    assert list(inc.index) == [
        ("SREV", "Revenue"),
        ("SCOR", "Cost of Revenue, Total"),
        ("NINC", "Net Income"),
        ("XXXX", ""),
    ]
    assert inc.loc[("SREV", "Revenue"), "2022-09-24"] == 394328.0
    assert inc.loc[("SCOR", "Cost of Revenue, Total")].isna().tolist() == [False, True]
    assert st.table("BAL", "annual").loc[("ATOT", "Total Assets"), "2023-09-30"] == 352583.0
    assert list(st.table("INC", "interim").columns) == ["2023-12-30"]
    assert st.table("CAS", "annual").empty and st.table("BAL", "interim").empty


def test_snapshot_summary_from_a_real_report_structure() -> None:
    s = parse_snapshot(SNAPSHOT_EXCERPT)
    assert (s.name, s.exchange, s.employees, s.currency) == (
        "Example Industries Inc.", "NASDAQ", "161000", "USD",
    )  # fmt: skip
    assert s.ids == {"RepNo": "A1B2C", "CIKNo": "0000123456", "Name": "Ordinary Shares",
                     "Ticker": "EXMP", "ISIN": "US0000000001"}  # fmt: skip
    assert s.industries[0] == ("TRBC", "5710602011", "Phones & Handheld Devices")
    assert s.key_ratios() == [
        ("NPRICE", "price", "191.56000"),
        ("MKTCAP", "market cap (millions)", "2979261.00000"),
        ("PEEXCLXOR", "P/E excl. extraordinary items", "31.12"),
    ]
    assert s.ratios["PDATE"] == ("Price and Volume", "2024-01-19T00:00:00")


NOW = datetime(2026, 5, 20, 15, tzinfo=UTC)


@pytest.fixture(scope="module")
def instruments() -> Instruments:
    return Instruments.load()


def test_synthetic_statements_add_up_and_say_so(instruments: Instruments) -> None:
    xml = fundamental_xml(instruments.by_symbol("NVDA"), "ReportsFinStatements", NOW, 120.0)
    assert "<!-- " + SYNTHETIC_NOTE in xml
    st = parse_statements(xml)
    assert st.note == SYNTHETIC_NOTE and st.company == "NVIDIA CORP"
    inc, bal = st.table("INC", "annual"), st.table("BAL", "annual")
    assert list(inc.columns) == ["2025-12-31", "2024-12-31", "2023-12-31", "2022-12-31"]
    interim = st.table("INC", "interim")
    assert list(interim.columns) == ["2026-03-31", "2025-12-31", "2025-09-30", "2025-06-30"]
    v = inc.droplevel(1)
    assert ((v.loc["SREV"] - v.loc["SCOR"] - v.loc["SGRP"]).abs() < 0.15).all()
    assert ((v.loc["EIBT"] - v.loc["TTAX"] - v.loc["NINC"]).abs() < 0.15).all()
    assert (v.loc["SREV"] > 1000).all() and (v.loc["SDBF"].abs() < 100).all()
    b = bal.droplevel(1)
    assert ((b.loc["LTLL"] + b.loc["QTLE"] - b.loc["ATOT"]).abs() < 0.15).all()
    # a year and its fourth quarter: one balance sheet; the year's flows are its quarters'
    q4 = st.table("BAL", "interim").droplevel(1)["2025-12-31"]
    assert (q4 == b["2025-12-31"]).all()
    company = Company.of("NVDA")
    year = figures("NVDA", company, Period(date(2025, 12, 31), True, 2025, 0))
    quarters = [figures("NVDA", company, Period(quarter_end(2025, q), False, 2025, q))
                for q in range(1, 5)]  # fmt: skip
    for code in ("SREV", "NINC", "OTLO", "SNCC"):
        assert abs(year[code] - sum(q[code] for q in quarters)) < 0.25
    again = fundamental_xml(instruments.by_symbol("NVDA"), "ReportsFinStatements", NOW, 99.0)
    assert again == xml  # deterministic: the symbol and the date, not the run


def test_synthetic_snapshot(instruments: Instruments) -> None:
    s = parse_snapshot(fundamental_xml(instruments.by_symbol("AAPL"), "ReportSnapshot", NOW, 200.0))
    assert s.name == "APPLE INC" and s.ids["Ticker"] == "AAPL" and s.exchange == "NASDAQ"
    assert s.note == SYNTHETIC_NOTE
    assert float(s.ratios["NPRICE"][1]) == 200.0
    shares = float(s.shares_out) / 1e6
    assert abs(float(s.ratios["MKTCAP"][1]) - 200.0 * shares) < 1.0
    without_price = parse_snapshot(
        fundamental_xml(instruments.by_symbol("AAPL"), "ReportSnapshot", NOW, None)
    )
    assert "NPRICE" not in without_price.ratios and "TTMREV" in without_price.ratios


@pytest.mark.parametrize(
    ("symbol", "report"),
    [("EUR", "ReportsFinStatements"), ("AAPL", "RESC"), ("AAPL", "CalendarReport"),
     ("AAPL", "ReportsFinSummary"), ("AAPL", "ReportsOwnership")],
)  # fmt: skip
def test_unavailable_reports(instruments: Instruments, symbol: str, report: str) -> None:
    with pytest.raises(FundamentalsUnavailable, match=NOT_AVAILABLE_TEXT):
        fundamental_xml(instruments.by_symbol(symbol), report, NOW, 1.0)


async def test_served_over_the_wire_with_430_and_cancel() -> None:
    gw = Gateway(GatewaySettings(port=0, speed=None))
    await gw.start()
    ib = IB()
    ib.RaiseRequestErrors = True
    try:
        await ib.connectAsync("127.0.0.1", gw.port, clientId=3, timeout=5)
        [aapl] = await ib.qualifyContractsAsync(Stock("AAPL", "SMART", "USD"))
        xml = await ib.reqFundamentalDataAsync(aapl, "ReportsFinStatements")
        assert parse_statements(xml).company == "APPLE INC"
        snap = parse_snapshot(await ib.reqFundamentalDataAsync(aapl, "ReportSnapshot"))
        assert float(snap.ratios["NPRICE"][1]) > 0  # the simulated market's last price
        for contract, report in ((aapl, "RESC"), (Forex("EURUSD"), "ReportSnapshot")):
            with pytest.raises(RequestError) as e:
                await ib.reqFundamentalDataAsync(contract, report)
            assert (e.value.code, e.value.message) == (NOT_AVAILABLE, NOT_AVAILABLE_TEXT)
        with pytest.raises(RequestError) as e:
            await ib.reqFundamentalDataAsync(Stock("NOSUCH", "SMART", "USD"), "ReportSnapshot")
        assert e.value.code == 200
        ib.client.cancelFundamentalData(99)  # nothing to cancel: answered at once, no error
        assert await ib.reqCurrentTimeAsync()
        await asyncio.sleep(0)
        assert ib.isConnected()
    finally:
        ib.disconnect()
        await gw.stop()
