"""IB's fundamental data XML (reqFundamentalData), parsed into tables.

``ReportsFinStatements`` (Refinitiv's ``ReportFinancialStatements`` schema): each fiscal
period's ``Statement`` of type INC (income statement), BAL (balance sheet) or CAS (cash flow)
holds ``lineItem`` values keyed by a COA code, which the document's ``COAMap`` describes. Each
statement becomes a pandas DataFrame per period kind (annual, interim): rows are the line
items, indexed by (COA code, description) in the COAMap's line order; columns are the fiscal
periods' end dates, most recent first, as the document lists them.

``ReportSnapshot``: the company's ids, exchange, industry classification, shares out and
the ratio groups, as a :class:`CompanySummary`.
https://interactivebrokers.github.io/tws-api/fundamentals.html
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass

import pandas as pd

STATEMENTS = {"INC": "income statement", "BAL": "balance sheet", "CAS": "cash flow"}
PERIOD_KINDS = {"annual": "AnnualPeriods", "interim": "InterimPeriods"}
# The ratios a short summary shows, by IB's FieldName, with what they mean.
KEY_RATIOS = {
    "NPRICE": "price",
    "MKTCAP": "market cap (millions)",
    "TTMREV": "revenue, TTM (millions)",
    "TTMEBITD": "EBITDA, TTM (millions)",
    "TTMNIAC": "net income, TTM (millions)",
    "TTMEPSXCLX": "EPS excl. extraordinary items, TTM",
    "PEEXCLXOR": "P/E excl. extraordinary items",
    "PRICE2BK": "price to book",
    "TTMGROSMGN": "gross margin, TTM (%)",
    "TTMROEPCT": "return on equity, TTM (%)",
    "QTOTD2EQ": "total debt to equity, last quarter (%)",
    "YIELD": "dividend yield (%)",
    "BETA": "beta",
}


class FundamentalsXmlError(ValueError):
    """The text is not the report it should be."""


@dataclass(frozen=True, slots=True)
class FinancialStatements:
    company: str
    currency: str
    note: str  # CoGeneralInfo/Note when the document has one (the simulator's says SYNTHETIC)
    # (statement type INC/BAL/CAS, period kind annual/interim) -> the table; empty when absent
    tables: dict[tuple[str, str], pd.DataFrame]

    def table(self, statement: str, kind: str) -> pd.DataFrame:
        return self.tables[(statement, kind)]


@dataclass(frozen=True, slots=True)
class CompanySummary:
    name: str
    ids: dict[str, str]  # CoID and IssueID by Type: RepNo, Ticker, ISIN, CUSIP, RIC...
    exchange: str
    industries: tuple[tuple[str, str, str], ...]  # (scheme e.g. TRBC/NAICS/SIC, code, name)
    employees: str
    shares_out: str
    currency: str
    note: str
    business_summary: str
    ratios: dict[str, tuple[str, str]]  # FieldName -> (group, value as IB wrote it)

    def key_ratios(self) -> list[tuple[str, str, str]]:
        """(FieldName, meaning, value) of the KEY_RATIOS the document has, in that order."""
        return [
            (k, label, self.ratios[k][1]) for k, label in KEY_RATIOS.items() if k in self.ratios
        ]


def _root(xml: str, tag: str) -> ET.Element:
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as e:
        raise FundamentalsXmlError(f"not XML: {e}") from None
    if root.tag != tag:
        raise FundamentalsXmlError(f"root element is <{root.tag}>, not <{tag}>")
    return root


def parse_statements(xml: str) -> FinancialStatements:
    root = _root(xml, "ReportFinancialStatements")
    body = root.find("FinancialStatements")
    if body is None:
        raise FundamentalsXmlError("no <FinancialStatements> in the document")
    coa = [
        (
            item.get("statementType", ""),
            int(item.get("lineID") or 0),
            item.get("coaItem", ""),
            (item.text or "").strip(),
        )
        for item in body.iterfind("COAMap/mapItem")
    ]
    tables = {
        (statement, kind): _table(body.findall(f"{tag}/FiscalPeriod"), statement, coa)
        for statement in STATEMENTS
        for kind, tag in PERIOD_KINDS.items()
    }
    return FinancialStatements(
        company=_company(root),
        currency=_currency(root),
        note=_text(root, "CoGeneralInfo/Note"),
        tables=tables,
    )


def _table(
    periods: list[ET.Element], statement: str, coa: list[tuple[str, int, str, str]]
) -> pd.DataFrame:
    columns: dict[str, dict[str, float]] = {}
    for fp in periods:
        st = fp.find(f"Statement[@Type='{statement}']")
        if st is None:
            continue
        end = fp.get("EndDate") or _text(st, "FPHeader/StatementDate")
        columns[end] = {
            li.get("coaCode", ""): float(li.text) for li in st.iterfind("lineItem") if li.text
        }
    present = {code for values in columns.values() for code in values}
    ordered = sorted(
        (line, code, text)
        for kind, line, code, text in coa
        if kind == statement and code in present
    )
    described = {code for _, code, _ in ordered}
    # A code the COAMap does not describe still shows, after the described ones.
    rows = [(code, text) for _, code, text in ordered]
    rows += [(code, "") for code in sorted(present - described)]
    index = pd.MultiIndex.from_tuples(rows, names=["coa", "line item"])
    frame = pd.DataFrame(
        {
            end: [values.get(code, float("nan")) for code, _ in rows]
            for end, values in columns.items()
        },
        index=index,
    )
    frame.columns.name = "period end"
    return frame


def parse_snapshot(xml: str) -> CompanySummary:
    root = _root(xml, "ReportSnapshot")
    ids = {el.get("Type", ""): (el.text or "").strip() for el in root.iterfind("CoIDs/CoID")}
    issue = root.find("Issues/Issue")
    if issue is not None:
        ids |= {el.get("Type", ""): (el.text or "").strip() for el in issue.iterfind("IssueID")}
    ids.pop("CompanyName", None)
    ratios = {
        r.get("FieldName", ""): (g.get("ID", ""), (r.text or "").strip())
        for g in root.iterfind("Ratios/Group")
        for r in g.iterfind("Ratio")
    }
    return CompanySummary(
        name=_company(root),
        ids=ids,
        exchange=_text(root, "Issues/Issue/Exchange"),
        industries=tuple(
            (el.get("type", ""), el.get("code", ""), (el.text or "").strip())
            for el in root.iterfind("peerInfo/IndustryInfo/Industry")
        ),
        employees=_text(root, "CoGeneralInfo/Employees"),
        shares_out=_text(root, "CoGeneralInfo/SharesOut"),
        currency=_currency(root),
        note=_text(root, "CoGeneralInfo/Note"),
        business_summary=_text(root, "TextInfo/Text[@Type='Business Summary']"),
        ratios=ratios,
    )


def _company(root: ET.Element) -> str:
    return _text(root, "CoIDs/CoID[@Type='CompanyName']")


def _currency(root: ET.Element) -> str:
    el = root.find("CoGeneralInfo/ReportingCurrency")
    return "" if el is None else el.get("Code", "")


def _text(root: ET.Element, path: str) -> str:
    return (root.findtext(path) or "").strip()
