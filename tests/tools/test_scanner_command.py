"""``ibbot scanner params|run`` through the command line (in-process main()) against the
embedded simulated gateway; bad input exits 2 before anything is sent, no IB exits 1."""

from __future__ import annotations

from pathlib import Path

import pytest
from support.network import free_port

from bot.cli import main
from bot.gateway.scanner import SCAN_CODES
from bot.tools.scanner_params import parse_scanner_parameters


def test_params_prints_scan_codes_instruments_locations_and_saves_xml(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    xml = tmp_path / "params.xml"
    assert main(["scanner", "params", "--embedded", "--xml", str(xml)]) == 0
    out = capsys.readouterr().out
    for scan in SCAN_CODES.values():
        assert f"{scan.code}  " in out and scan.display_name in out
    assert "Instruments (1)" in out and "US Stocks" in out
    assert "Locations (3; nested ones indented)" in out and "  STK.US.MAJOR  Listed/NASDAQ" in out
    assert parse_scanner_parameters(xml.read_text()).scan_types  # the raw XML, saved whole
    assert f"wrote the raw XML ({len(xml.read_text()):,} characters)" in out


def test_run_prints_ranked_rows(capsys: pytest.CaptureFixture[str]) -> None:
    args = ["scanner", "run", "--embedded", "--code", "MOST_ACTIVE", "--rows", "3"]
    assert main([*args, "--above-price", "50"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "scan MOST_ACTIVE STK STK.US.MAJOR: 3 rows"
    assert lines[1].split() == ["rank", "symbol", "conId", "exchange", "currency"]
    ranks = [line.split()[0] for line in lines[3:]]
    assert ranks == ["0", "1", "2"] and all(line.split()[4] == "USD" for line in lines[3:])


def test_unknown_scan_code_is_ibs_error_162_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scanner", "run", "--embedded", "--code", "HOT_BY_NOTHING"]) == 2
    err = capsys.readouterr().err
    assert "IB refused the scan HOT_BY_NOTHING STK STK.US.MAJOR: error 162:" in err
    assert "Scanner type with code HOT_BY_NOTHING is disabled." in err


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--rows", "0"], "--rows 0 is out of range: IB returns 1 to 50 rows"),
        (["--rows", "51"], "--rows 51 is out of range: IB returns 1 to 50 rows"),
        (["--above-price", "20", "--below-price", "10"], "no price can match both"),
        (["--above-volume", "-5"], "--above-volume must not be negative"),
    ],
)
def test_bad_flags_exit_2_without_connecting(
    flags: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    # port 1 has nothing listening: reaching it would exit 1, not 2
    assert main(["scanner", "run", "--port", "1", "--code", "HIGH_OPEN_GAP", *flags]) == 2
    assert message in capsys.readouterr().err


def test_cannot_connect_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    port = free_port()
    assert main(["scanner", "params", "--port", str(port), "--timeout", "5"]) == 1
    err = capsys.readouterr().err
    assert f"cannot reach IB at 127.0.0.1:{port}" in err and "--embedded" in err


def test_host_port_do_not_go_with_the_embedded_gateway(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["scanner", "params", "--embedded", "--port", "4002"]) == 2
    assert "they do not go with the embedded gateway" in capsys.readouterr().err


def test_a_config_with_a_gateway_block_is_embedded(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "run.yaml"
    root = Path(__file__).resolve().parents[2]
    cfg.write_text(
        f"gateway: {{data: {root / 'data/sample'}, "
        f"instruments: {root / 'config/instruments.yaml'}}}\n"
        "universe: {symbols: [AAPL]}\n"
        "strategies:\n"
        "  - {id: t, class: sma_crossover, symbols: [AAPL], sizing: {fixed: 1}}\n"
    )
    assert main(["scanner", "run", str(cfg), "--code", "TOP_PERC_GAIN", "--rows", "2"]) == 0
    assert "scan TOP_PERC_GAIN STK STK.US.MAJOR:" in capsys.readouterr().out
