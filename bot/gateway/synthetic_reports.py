"""reqFundamentalData: SYNTHETIC company reports in IB's (Refinitiv's) XML schemas.

The simulator has no real financial statements, so it writes clearly synthetic ones (an XML
comment and a ``CoGeneralInfo/Note`` say so) for its stock instruments: ``ReportsFinStatements``
(income statement INC, balance sheet BAL, cash flow CAS, each line item a COA code described
in ``COAMap``; four annual and four quarterly periods) and ``ReportSnapshot`` (ids, industry,
ratios). Every figure comes from the symbol (a seeded generator) and the period, so the same
symbol gives the same company every run; the price ratios use the simulated market's last price.
Other report types, and currencies (CASH), get IB's error 430.
https://interactivebrokers.github.io/tws-api/fundamentals.html
"""

from __future__ import annotations

import random
import xml.etree.ElementTree as ET
import zlib
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from bot.sim.instruments import Instrument

FIN_STATEMENTS, SNAPSHOT = "ReportsFinStatements", "ReportSnapshot"
REPORT_TYPES = (FIN_STATEMENTS, SNAPSHOT)
NOT_AVAILABLE = 430
NOT_AVAILABLE_TEXT = (
    "We are sorry, but fundamentals data for the security specified is not available."
)
SYNTHETIC_NOTE = (
    "SYNTHETIC data from ibbot's simulated IB Gateway, generated from the symbol: "
    "not the company's real figures."
)
ANNUAL_PERIODS, INTERIM_PERIODS = 4, 4
_ANNUAL_LAG, _INTERIM_LAG = timedelta(days=60), timedelta(days=45)  # filed after period end
_BASE_YEAR = 2020  # growth compounds from here, so a period's figures never depend on "now"
_TAX_RATE = 0.21
_SEASON = (0.95, 0.98, 1.0, 1.07)  # quarterly share of a year's revenue (x 1/4)
_EXCHANGE_CODES = {"NASDAQ": "NASD", "NYSE": "NYSE", "ARCA": "ARCA", "AMEX": "AMEX"}

# (COA code, statement type, line id, description), in IB's order within each statement.
COA_ITEMS: tuple[tuple[str, str, int, str], ...] = (
    ("SREV", "INC", 10, "Revenue"),
    ("RTLR", "INC", 20, "Total Revenue"),
    ("SCOR", "INC", 30, "Cost of Revenue, Total"),
    ("SGRP", "INC", 40, "Gross Profit"),
    ("SSGA", "INC", 50, "Selling/General/Admin. Expenses, Total"),
    ("ERAD", "INC", 60, "Research & Development"),
    ("ETOE", "INC", 70, "Total Operating Expense"),
    ("SOPI", "INC", 80, "Operating Income"),
    ("SNIN", "INC", 90, "Interest Inc.(Exp.),Net-Non-Op., Total"),
    ("EIBT", "INC", 100, "Net Income Before Taxes"),
    ("TTAX", "INC", 110, "Provision for Income Taxes"),
    ("TIAT", "INC", 120, "Net Income After Taxes"),
    ("NINC", "INC", 130, "Net Income"),
    ("SDWS", "INC", 140, "Diluted Weighted Average Shares"),
    ("SDBF", "INC", 150, "Diluted EPS Excluding ExtraOrd Items"),
    ("ACAE", "BAL", 10, "Cash & Equivalents"),
    ("AACR", "BAL", 20, "Accounts Receivable - Trade, Net"),
    ("AITL", "BAL", 30, "Total Inventory"),
    ("SOCA", "BAL", 40, "Other Current Assets, Total"),
    ("ATCA", "BAL", 50, "Total Current Assets"),
    ("APTC", "BAL", 60, "Property/Plant/Equipment, Total - Net"),
    ("AGWI", "BAL", 70, "Goodwill, Net"),
    ("SOLA", "BAL", 80, "Other Long Term Assets, Total"),
    ("ATOT", "BAL", 90, "Total Assets"),
    ("LAPB", "BAL", 100, "Accounts Payable"),
    ("SOCL", "BAL", 110, "Other Current liabilities, Total"),
    ("LTCL", "BAL", 120, "Total Current Liabilities"),
    ("LTTD", "BAL", 130, "Total Long Term Debt"),
    ("SLTL", "BAL", 140, "Other Liabilities, Total"),
    ("LTLL", "BAL", 150, "Total Liabilities"),
    ("SCMS", "BAL", 160, "Common Stock, Total"),
    ("QRED", "BAL", 170, "Retained Earnings (Accumulated Deficit)"),
    ("QTLE", "BAL", 180, "Total Equity"),
    ("QTEL", "BAL", 190, "Total Liabilities & Shareholders' Equity"),
    ("QTCO", "BAL", 200, "Total Common Shares Outstanding"),
    ("ONET", "CAS", 10, "Net Income/Starting Line"),
    ("SDED", "CAS", 20, "Depreciation/Depletion"),
    ("SOCF", "CAS", 30, "Changes in Working Capital"),
    ("OTLO", "CAS", 40, "Cash from Operating Activities"),
    ("SCEX", "CAS", 50, "Capital Expenditures"),
    ("SICF", "CAS", 60, "Other Investing Cash Flow Items, Total"),
    ("ITLI", "CAS", 70, "Cash from Investing Activities"),
    ("FCDP", "CAS", 80, "Total Cash Dividends Paid"),
    ("FPSS", "CAS", 90, "Issuance (Retirement) of Stock, Net"),
    ("FPRD", "CAS", 100, "Issuance (Retirement) of Debt, Net"),
    ("FTLF", "CAS", 110, "Cash from Financing Activities"),
    ("SNCC", "CAS", 120, "Net Change in Cash"),
)
_PER_SHARE = {"SDBF"}


class FundamentalsUnavailable(Exception):
    """Answer the request with error 430."""


@dataclass(frozen=True, slots=True)
class Company:
    """The symbol's synthetic profile: the fixed ratios every period's figures follow."""

    revenue: float  # annual revenue in the base year, millions
    growth: float  # a year
    gross_margin: float
    sga: float  # share of revenue
    rnd: float
    asset_turn: float  # revenue / total assets
    leverage: float  # total liabilities / total assets
    shares: float  # millions
    payout: float  # dividends / net income
    buyback: float  # repurchases / net income
    employees: int

    @classmethod
    def of(cls, symbol: str) -> Company:
        r = random.Random(zlib.crc32(symbol.encode()))
        revenue = 10 ** r.uniform(3.6, 5.4)  # 4 bn to 250 bn a year
        gross = r.uniform(0.35, 0.7)
        sga = r.uniform(0.08, 0.2)
        rnd = min(r.uniform(0.02, 0.18), gross - sga - 0.05)  # keep an operating profit
        return cls(
            revenue=revenue,
            growth=r.uniform(-0.02, 0.14),
            gross_margin=gross,
            sga=sga,
            rnd=max(rnd, 0.0),
            asset_turn=r.uniform(0.5, 1.5),
            leverage=r.uniform(0.35, 0.7),
            shares=revenue * r.uniform(0.008, 0.04),
            payout=r.uniform(0.0, 0.4),
            buyback=r.uniform(0.3, 0.8),
            employees=int(revenue * r.uniform(0.5, 3.0)),
        )


@dataclass(frozen=True, slots=True)
class Period:
    end: date
    annual: bool
    fiscal_year: int
    number: int  # quarter 1..4 of an interim period; 0 for a year


def fundamental_xml(inst: Instrument, report_type: str, now: datetime, price: float | None) -> str:
    """The report document; raises FundamentalsUnavailable where IB answers 430."""
    if inst.sec_type != "STK" or report_type not in REPORT_TYPES:
        raise FundamentalsUnavailable(NOT_AVAILABLE_TEXT)
    company = Company.of(inst.symbol)
    periods = annual_periods(now.date()) + interim_periods(now.date())
    if report_type == FIN_STATEMENTS:
        root = _statements(inst, company, periods)
    else:
        root = _snapshot(inst, company, periods, price)
    root.insert(0, ET.Comment(" " + SYNTHETIC_NOTE + " "))
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode")


def annual_periods(today: date) -> list[Period]:
    """The last fiscal years (ending Dec 31) filed by ``today``, most recent first."""
    year = (today - _ANNUAL_LAG).year - 1
    return [Period(date(y, 12, 31), True, y, 0) for y in range(year, year - ANNUAL_PERIODS, -1)]


def interim_periods(today: date) -> list[Period]:
    """The last quarters filed by ``today``, most recent first."""
    t = today - _INTERIM_LAG
    year, quarter = (t.year, (t.month - 1) // 3) if t.month > 3 else (t.year - 1, 4)
    out = []
    for _ in range(INTERIM_PERIODS):
        out.append(Period(quarter_end(year, quarter), False, year, quarter))
        year, quarter = (year, quarter - 1) if quarter > 1 else (year - 1, 4)
    return out


def quarter_end(year: int, quarter: int) -> date:
    return (date(year, 3 * quarter, 1) + timedelta(days=31)).replace(day=1) - timedelta(days=1)


def figures(symbol: str, company: Company, period: Period) -> dict[str, float]:
    """Every COA item of one period. Flows are the quarter's for an interim period and the
    sum of the year's four quarters for an annual one; the balance sheet is the one at the
    period's end, so a year and its fourth quarter agree."""
    if period.annual:
        quarters = [_flows(symbol, company, period.fiscal_year, q) for q in range(1, 5)]
        f = {k: sum(q[k] for q in quarters) for k in quarters[0]}
    else:
        f = _flows(symbol, company, period.fiscal_year, period.number)
    f |= {"SDWS": company.shares, "SDBF": f["NINC"] / company.shares}
    f |= _balance_sheet(symbol, company, period.end)
    return {k: round(v, 2 if k in _PER_SHARE else 1) for k, v in f.items()}


def _annual_revenue(c: Company, year: int) -> float:
    return c.revenue * (1 + c.growth) ** (year - _BASE_YEAR)


def _flows(symbol: str, c: Company, year: int, quarter: int) -> dict[str, float]:
    """The income statement and cash flow of one quarter."""
    noise = random.Random(f"{symbol}:{year}Q{quarter}")
    rev = _annual_revenue(c, year) * _SEASON[quarter - 1] / 4 * noise.uniform(0.97, 1.03)
    cost = rev * (1 - c.gross_margin) * noise.uniform(0.98, 1.02)
    sga, rnd = rev * c.sga, rev * c.rnd
    opex = cost + sga + rnd
    operating = rev - opex
    debt = _annual_revenue(c, year) / c.asset_turn * c.leverage * 0.45
    interest = -debt * 0.04 / 4  # 4 % a year on the long-term debt
    pretax = operating + interest
    tax = max(pretax, 0.0) * _TAX_RATE
    net = pretax - tax
    f = {"SREV": rev, "RTLR": rev, "SCOR": cost, "SGRP": rev - cost, "SSGA": sga, "ERAD": rnd}
    f |= {"ETOE": opex, "SOPI": operating, "SNIN": interest, "EIBT": pretax, "TTAX": tax}
    f |= {"TIAT": net, "NINC": net}
    return f | _cash_flow(rev, net, c, noise)


def _balance_sheet(symbol: str, c: Company, end: date) -> dict[str, float]:
    noise = random.Random(f"{symbol}:{end.isoformat()}")
    assets = _annual_revenue(c, end.year) / c.asset_turn * noise.uniform(0.98, 1.02)
    liabilities, shares = assets * c.leverage, c.shares
    current = assets * noise.uniform(0.3, 0.45)
    cash, receivable, inventory = current * 0.4, current * 0.35, current * 0.15
    ppe, goodwill = assets * 0.25, assets * 0.1
    current_liab = liabilities * 0.4
    payable, debt = current_liab * 0.45, liabilities * 0.45
    equity = assets - liabilities
    retained = equity * 0.8
    return {
        "ACAE": cash,
        "AACR": receivable,
        "AITL": inventory,
        "SOCA": current - cash - receivable - inventory,
        "ATCA": current,
        "APTC": ppe,
        "AGWI": goodwill,
        "SOLA": assets - current - ppe - goodwill,
        "ATOT": assets,
        "LAPB": payable,
        "SOCL": current_liab - payable,
        "LTCL": current_liab,
        "LTTD": debt,
        "SLTL": liabilities - current_liab - debt,
        "LTLL": liabilities,
        "SCMS": equity - retained,
        "QRED": retained,
        "QTLE": equity,
        "QTEL": assets,
        "QTCO": shares,
    }


def _cash_flow(rev: float, net: float, c: Company, noise: random.Random) -> dict[str, float]:
    dep, wc = rev * 0.04, rev * noise.uniform(-0.02, 0.02)
    operating = net + dep + wc
    capex, other_inv = -rev * noise.uniform(0.03, 0.07), -rev * noise.uniform(0.0, 0.02)
    dividends, stock = -max(net, 0.0) * c.payout, -max(net, 0.0) * c.buyback
    debt = rev * noise.uniform(-0.02, 0.02)
    financing = dividends + stock + debt
    return {
        "ONET": net,
        "SDED": dep,
        "SOCF": wc,
        "OTLO": operating,
        "SCEX": capex,
        "SICF": other_inv,
        "ITLI": capex + other_inv,
        "FCDP": dividends,
        "FPSS": stock,
        "FPRD": debt,
        "FTLF": financing,
        "SNCC": operating + capex + other_inv + financing,
    }


# ---- the two documents ------------------------------------------------------------------------


def _header(root: ET.Element, inst: Instrument, company: Company, periods: list[Period]) -> None:
    """CoIDs, Issues and CoGeneralInfo: the head both report types share."""
    ids = ET.SubElement(root, "CoIDs")
    _el(ids, "CoID", f"SYN{inst.con_id % 100000:05d}", Type="RepNo")
    _el(ids, "CoID", inst.long_name, Type="CompanyName")
    issues = ET.SubElement(root, "Issues")
    issue = ET.SubElement(issues, "Issue", ID="1", Type="C", Desc="Common Stock", Order="1")
    _el(issue, "IssueID", "Ordinary Shares", Type="Name")
    _el(issue, "IssueID", inst.symbol, Type="Ticker")
    code = _EXCHANGE_CODES.get(inst.primary_exchange, inst.primary_exchange)
    _el(issue, "Exchange", inst.primary_exchange, Code=code, Country="USA")
    info = ET.SubElement(root, "CoGeneralInfo")
    _el(info, "CoStatus", "Active", Code="1")
    _el(info, "CoType", "Equity Issue", Code="EQU")
    annual = [p for p in periods if p.annual]
    interim = [p for p in periods if not p.annual]
    _el(info, "LatestAvailableAnnual", annual[0].end.isoformat())
    _el(info, "LatestAvailableInterim", interim[0].end.isoformat())
    _el(info, "Employees", str(company.employees), LastUpdated=annual[0].end.isoformat())
    _el(info, "SharesOut", f"{company.shares * 1e6:.1f}", Date=interim[0].end.isoformat())
    _el(info, "ReportingCurrency", "U.S. Dollars", Code=inst.currency)
    _el(info, "Note", SYNTHETIC_NOTE)


def _statements(inst: Instrument, company: Company, periods: list[Period]) -> ET.Element:
    root = ET.Element("ReportFinancialStatements", Major="1", Minor="0", Revision="1")
    _header(root, inst, company, periods)
    info = ET.SubElement(root, "StatementInfo")
    _el(info, "COAType", "Industrial", Code="INDU")
    _el(info, "BalanceSheetDisplay", "Classified", Code="1")
    _el(info, "CashFlowMethod", "Indirect", Code="IND")
    statements = ET.SubElement(root, "FinancialStatements")
    coa_map = ET.SubElement(statements, "COAMap")
    for code, kind, line, text in COA_ITEMS:
        precision = "2" if code in _PER_SHARE else "1"
        _el(
            coa_map,
            "mapItem",
            text,
            coaItem=code,
            statementType=kind,
            lineID=str(line),
            precision=precision,
        )
    for tag, annual in (("AnnualPeriods", True), ("InterimPeriods", False)):
        holder = ET.SubElement(statements, tag)
        for p in (p for p in periods if p.annual == annual):
            holder.append(_fiscal_period(p, figures(inst.symbol, company, p)))
    return root


def _fiscal_period(p: Period, values: dict[str, float]) -> ET.Element:
    attrs = {
        "Type": "Annual" if p.annual else "Interim",
        "EndDate": p.end.isoformat(),
        "FiscalYear": str(p.fiscal_year),
    }
    if not p.annual:
        attrs["FiscalPeriodNumber"] = str(p.number)
    fp = ET.Element("FiscalPeriod", attrs)
    for kind in ("INC", "BAL", "CAS"):
        st = ET.SubElement(fp, "Statement", Type=kind)
        header = ET.SubElement(st, "FPHeader")
        _el(header, "PeriodLength", "12" if p.annual else "3")
        _el(header, "periodType", "Months", Code="M")
        _el(header, "UpdateType", "Updated Normal", Code="UPD")
        _el(header, "StatementDate", p.end.isoformat())
        _el(
            header,
            "Source",
            "10-K" if p.annual else "10-Q",
            Date=(p.end + (_ANNUAL_LAG if p.annual else _INTERIM_LAG)).isoformat(),
        )
        for code, item_kind, _, _ in COA_ITEMS:
            if item_kind == kind:
                _el(st, "lineItem", repr(values[code]), coaCode=code)
    return fp


def _snapshot(
    inst: Instrument, company: Company, periods: list[Period], price: float | None
) -> ET.Element:
    root = ET.Element("ReportSnapshot", Major="1", Minor="0", Revision="1")
    _header(root, inst, company, periods)
    text = ET.SubElement(root, "TextInfo")
    _el(
        text,
        "Text",
        f"{inst.long_name}: a synthetic company of ibbot's simulated gateway, "
        "its figures generated from the symbol.",
        Type="Business Summary",
    )
    peers = ET.SubElement(ET.SubElement(root, "peerInfo"), "IndustryInfo")
    _el(
        peers,
        "Industry",
        "Synthetic sample company (no industry data)",
        type="TRBC",
        order="1",
        reported="0",
        code="0000000000",
    )
    ratios = ET.SubElement(
        root,
        "Ratios",
        PriceCurrency=inst.currency,
        ReportingCurrency=inst.currency,
        ExchangeRate="1.00000",
    )
    for group, values in _ratios(inst.symbol, company, periods, price).items():
        g = ET.SubElement(ratios, "Group", ID=group)
        for name, value in values.items():
            _el(g, "Ratio", f"{value:.5f}", FieldName=name, Type="N")
    return root


def _ratios(
    symbol: str, company: Company, periods: list[Period], price: float | None
) -> dict[str, dict[str, float]]:
    """IB's snapshot ratio groups from the last four quarters (TTM) and the last quarter."""
    quarters = [figures(symbol, company, p) for p in periods if not p.annual]
    ttm = {k: sum(q[k] for q in quarters) for k in ("RTLR", "SGRP", "NINC", "SOPI", "SDED")}
    last = quarters[0]
    eps = ttm["NINC"] / company.shares
    out: dict[str, dict[str, float]] = {}
    if price is not None:
        cap = price * company.shares
        out["Price and Volume"] = {"NPRICE": price}
        out["Income Statement"] = {"MKTCAP": cap}
        valuation = {"PEEXCLXOR": price / eps} if eps > 0 else {}
        valuation["PRICE2BK"] = cap / last["QTLE"]
        valuation["TTMPR2REV"] = cap / ttm["RTLR"]
    else:
        out["Income Statement"], valuation = {}, {}
    out["Income Statement"] |= {
        "TTMREV": ttm["RTLR"],
        "TTMEBITD": ttm["SOPI"] + ttm["SDED"],
        "TTMNIAC": ttm["NINC"],
    }
    out["Per share data"] = {"TTMEPSXCLX": eps, "QBVPS": last["QTLE"] / company.shares}
    out["Other Ratios"] = valuation | {
        "TTMGROSMGN": 100 * ttm["SGRP"] / ttm["RTLR"],
        "TTMROEPCT": 100 * ttm["NINC"] / last["QTLE"],
        "QTOTD2EQ": 100 * last["LTTD"] / last["QTLE"],
        "Employees": float(company.employees),
    }
    return out


def _el(parent: ET.Element, tag: str, text: str, **attrs: str) -> ET.Element:
    el = ET.SubElement(parent, tag, attrs)
    el.text = text
    return el
