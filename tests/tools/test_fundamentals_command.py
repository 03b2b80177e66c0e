"""``ibbot fundamentals`` through the command line (in-process main()) against the embedded
simulated gateway: tables printed and written, a snapshot summary, and clear exit-2 errors for
an unknown symbol and an unavailable report."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from bot.cli import main
from bot.gateway.synthetic_reports import NOT_AVAILABLE_TEXT, SYNTHETIC_NOTE


def test_statements_printed_and_written_as_csv(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out_dir = tmp_path / "out"
    assert main(["fundamentals", "AAPL", "--embedded", "--out", str(out_dir)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("APPLE INC (USD), financial statements\nNOTE: " + SYNTHETIC_NOTE)
    for title in ("Income statement, annual", "Balance sheet, annual", "Cash flow, annual"):
        assert title in out
    assert "interim" not in out.split("wrote")[0]  # --period annual is the default
    assert "SREV Revenue" in out and "QTEL Total Liabilities & Shareholders' Equity" in out
    names = sorted(p.name for p in out_dir.iterdir())
    assert names == sorted(
        ["AAPL_ReportsFinStatements.xml"]
        + [f"AAPL_{s}_{k}.csv" for s in ("income_statement", "balance_sheet", "cash_flow")
           for k in ("annual", "interim")]
    )  # fmt: skip
    inc = pd.read_csv(out_dir / "AAPL_income_statement_annual.csv", index_col=[0, 1])
    assert inc.index.names == ["coa", "line item"] and len(inc.columns) == 4
    assert inc.loc[("SGRP", "Gross Profit")].iloc[0] == pytest.approx(
        inc.loc[("SREV", "Revenue")].iloc[0] - inc.loc[("SCOR", "Cost of Revenue, Total")].iloc[0],
        abs=0.15,
    )


def test_interim_period(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fundamentals", "msft", "--embedded", "--period", "interim"]) == 0
    out = capsys.readouterr().out
    assert "Income statement, interim" in out and "Income statement, annual" not in out


def test_snapshot_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["fundamentals", "NVDA", "--report", "ReportSnapshot", "--embedded"]
    assert main([*args, "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("NVIDIA CORP (NASDAQ)\nNOTE: ")
    assert "ids: RepNo SYN" in out and "Ticker NVDA" in out
    assert "industry (TRBC" in out and "market cap (millions)" in out
    ratios = pd.read_csv(tmp_path / "NVDA_snapshot_ratios.csv")
    assert {"NPRICE", "MKTCAP", "TTMREV"} <= set(ratios["field"])


def test_unknown_symbol_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fundamentals", "NOSUCH", "--embedded"]) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "ibbot fundamentals: IB knows no STK NOSUCH on SMART in USD (error 200:" in captured.err


def test_unavailable_report_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["fundamentals", "EUR.USD", "--embedded"]) == 2
    err = capsys.readouterr().err
    assert f"IB has no ReportsFinStatements for EUR.USD (error 430: {NOT_AVAILABLE_TEXT})" in err


def test_bad_config_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = tmp_path / "bad.yaml"
    cfg.write_text("ib: {port: 99999}\n")
    assert main(["fundamentals", "AAPL", "--config", str(cfg)]) == 2
    assert "ib.port" in capsys.readouterr().err
