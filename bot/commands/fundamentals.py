"""``ibbot fundamentals SYMBOL [--report ReportsFinStatements|ReportSnapshot] [--out DIR]``.

Qualifies the contract, asks reqFundamentalData and prints the report parsed
(bot/tools/fundamentals_xml.py): the income statement, balance sheet and cash flow as tables (line
items by COA code, fiscal periods as columns), or a short company summary for ReportSnapshot. With
``--out DIR`` it writes each table as CSV (annual and interim) and the raw XML. Against a real IB
(``--config`` with an ``ib:`` block, or --host/--port) or the embedded simulated gateway
(``--embedded``, or a config with a ``gateway:`` block), whose reports are SYNTHETIC.

Exit 0 on success; 2 on bad input (a bad config or flag, a symbol IB does not know or finds
ambiguous, a report IB does not have for it: error 430); 1 when IB cannot be reached or does
not answer, or a file cannot be written.
https://interactivebrokers.github.io/tws-api/fundamentals.html
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from bot.config.errors import ConfigError
from bot.runtime.text_table import render
from bot.tools.fundamentals_xml import (
    STATEMENTS,
    CompanySummary,
    FinancialStatements,
    FundamentalsXmlError,
    parse_snapshot,
    parse_statements,
)
from bot.tools.session import (
    EXIT_BAD_INPUT,
    EXIT_RUNTIME,
    Target,
    ToolError,
    add_target_arguments,
    answer,
    contract_for,
    qualify,
    run_tool,
    setup_logging,
    target_from_args,
)

if TYPE_CHECKING:  # imported once the config has chosen the library (target_from_args)
    from bot.client.ib import IB, Contract

REPORTS = ("ReportsFinStatements", "ReportSnapshot")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "symbol",
        metavar="SYMBOL",
        help="e.g. AAPL (a pair such as EUR.USD is a currency, which has no fundamentals)",
    )
    p.add_argument(
        "--report",
        choices=REPORTS,
        default=REPORTS[0],
        help="ReportsFinStatements: income statement, balance sheet, cash flow "
        "(default); ReportSnapshot: company summary and ratios",
    )
    p.add_argument(
        "--period",
        choices=("annual", "interim", "all"),
        default="annual",
        help="statements to print (default annual; --out writes both)",
    )
    p.add_argument(
        "--out", type=Path, metavar="DIR", help="write the tables as CSV and the raw XML into DIR"
    )
    p.add_argument("--exchange", default="SMART", help="default SMART")
    p.add_argument(
        "--primary-exchange",
        default="",
        metavar="X",
        help="the listing exchange, if the symbol is ambiguous (e.g. NASDAQ)",
    )
    p.add_argument("--currency", default="USD", help="default USD")
    add_target_arguments(p, config_positional=False)


def contract_of(args: argparse.Namespace) -> Contract:
    return contract_for(args.symbol, args.exchange, args.currency, args.primary_exchange)


def run(args: argparse.Namespace) -> int:
    setup_logging(args.log_level)
    try:
        target = target_from_args(args)
    except ConfigError as e:
        print(e, file=sys.stderr)
        return EXIT_BAD_INPUT
    except ToolError as e:
        print(f"ibbot fundamentals: {e}", file=sys.stderr)
        return e.code
    return run_tool("fundamentals", target, lambda ib, t: _report(ib, t, args))


async def _report(ib: IB, target: Target, args: argparse.Namespace) -> int:
    from bot.client.ib import RequestError

    contract = await qualify(ib, contract_of(args), target.timeout)
    name = contract.localSymbol or contract.symbol
    try:
        xml = await answer(
            ib.reqFundamentalDataAsync(contract, args.report),
            f"reqFundamentalData {args.report} for {name}",
            target.timeout,
        )
    except RequestError as e:
        raise ToolError(
            EXIT_BAD_INPUT, f"IB has no {args.report} for {name} (error {e.code}: {e.message})"
        ) from None
    try:
        if args.report == "ReportSnapshot":
            summary = parse_snapshot(xml)
            print(render_summary(summary))
            written = _write_snapshot(args.out, name, xml, summary) if args.out else []
        else:
            statements = parse_statements(xml)
            print(render_statements(statements, args.period))
            written = _write_statements(args.out, name, xml, statements) if args.out else []
    except FundamentalsXmlError as e:
        raise ToolError(
            EXIT_RUNTIME, f"IB's {args.report} for {name} does not parse: {e}"
        ) from None
    except OSError as e:
        raise ToolError(EXIT_RUNTIME, f"cannot write into {args.out}: {e}") from None
    if written:
        print(f"\nwrote {', '.join(p.name for p in written)} to {args.out}")
    return 0


def render_statements(st: FinancialStatements, period: str) -> str:
    kinds = ("annual", "interim") if period == "all" else (period,)
    head = f"{st.company} ({st.currency}), financial statements"
    parts = [head + (f"\nNOTE: {st.note}" if st.note else "")]
    for statement, title in STATEMENTS.items():
        for kind in kinds:
            frame = st.table(statement, kind)
            body = _frame_text(frame) if not frame.empty else "(none in the report)"
            parts.append(f"{title.capitalize()}, {kind}\n{body}")
    return "\n\n".join(parts)


def _frame_text(frame: pd.DataFrame) -> str:
    return frame.to_string(float_format=lambda v: f"{v:,.2f}", na_rep="")


def render_summary(s: CompanySummary) -> str:
    lines = [s.name + (f" ({s.exchange})" if s.exchange else "")]
    if s.note:
        lines.append(f"NOTE: {s.note}")
    lines.append("ids: " + ", ".join(f"{k} {v}" for k, v in s.ids.items() if v))
    lines += [f"industry ({scheme} {code}): {name}" for scheme, code, name in s.industries]
    facts = [
        ("employees", _number(s.employees)),
        ("shares out", _number(s.shares_out)),
        ("reporting currency", s.currency),
    ]
    lines += [f"{label}: {value}" for label, value in facts if value]
    if s.business_summary:
        lines.append(f"business: {s.business_summary}")
    ratios = [(k, meaning, _number(v)) for k, meaning, v in s.key_ratios()]
    if ratios:
        lines += ["", render(["ratio", "meaning", "value"], ratios)]
    return "\n".join(lines)


def _number(text: str) -> str:
    """IB's "994031.17675" as "994,031.18"; whole numbers without decimals; text unchanged."""
    try:
        value = float(text)
    except ValueError:
        return text
    return f"{value:,.0f}" if value.is_integer() else f"{value:,.2f}"


def _write_statements(out: Path, name: str, xml: str, st: FinancialStatements) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    written = [_write(out / f"{name}_ReportsFinStatements.xml", xml)]
    for (statement, kind), frame in st.tables.items():
        path = out / f"{name}_{STATEMENTS[statement].replace(' ', '_')}_{kind}.csv"
        frame.to_csv(path)
        written.append(path)
    return written


def _write_snapshot(out: Path, name: str, xml: str, s: CompanySummary) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    ratios = pd.DataFrame(
        [(k, g, v) for k, (g, v) in s.ratios.items()], columns=["field", "group", "value"]
    )
    path = out / f"{name}_snapshot_ratios.csv"
    ratios.to_csv(path, index=False)
    return [_write(out / f"{name}_ReportSnapshot.xml", xml), path]


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path
