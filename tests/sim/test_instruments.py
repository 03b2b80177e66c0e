"""Instruments: the shipped file, IB-style matching, session strings and DST, bad files."""

from __future__ import annotations

from datetime import UTC, date, datetime
from pathlib import Path

import pytest
import yaml
from ib_insync import Contract, Forex, Stock

from bot.sim.instruments import DEFAULT_INSTRUMENTS_FILE, InstrumentError, Instruments

SHIPPED = Instruments.load(DEFAULT_INSTRUMENTS_FILE)
AAPL = SHIPPED.by_symbol("AAPL")
EUR = SHIPPED.by_symbol("EUR.USD")


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def test_shipped_file_has_the_sample_universe() -> None:
    stocks = [i for i in SHIPPED if i.sec_type == "STK"]
    assert len(stocks) == 25 and len(SHIPPED) == 26
    assert {"AAPL", "MSFT", "NVDA", "AMZN", "INTC"} <= {i.symbol for i in stocks}
    assert all(i.exchange == "SMART" and i.primary_exchange == "NASDAQ" for i in stocks)
    assert AAPL.con_id == 265598 and AAPL.local_symbol == "AAPL" and AAPL.spread >= 0.01
    assert (EUR.symbol, EUR.sec_type, EUR.exchange, EUR.currency) == (
        "EUR",
        "CASH",
        "IDEALPRO",
        "USD",
    )
    assert EUR.min_tick == 0.00005 and EUR.local_symbol == "EUR.USD"


def test_match_follows_ib_rules() -> None:
    assert SHIPPED.match(Stock("AAPL", "SMART", "USD")) == [AAPL]
    assert SHIPPED.match(Stock("AAPL", "NASDAQ", "USD")) == [AAPL]  # primary exchange routes too
    assert SHIPPED.match(Contract(conId=265598)) == [AAPL]
    assert SHIPPED.match(Forex("EURUSD")) == [EUR]
    assert SHIPPED.match(Contract(secType="CASH", localSymbol="EUR.USD")) == [EUR]
    assert SHIPPED.match(Stock("AAPL", "SMART", "EUR")) == []
    assert SHIPPED.match(Stock("NOPE", "SMART", "USD")) == []
    assert SHIPPED.match(Contract(conId=1)) == []
    assert SHIPPED.match(Contract()) == []
    with pytest.raises(KeyError, match="unknown symbol"):
        SHIPPED.by_symbol("NOPE")


def test_contract_and_details_are_qualified() -> None:
    now = utc(2026, 11, 24, 15)
    cd = AAPL.contract_details(now)
    assert cd.contract == AAPL.contract() and cd.contract.conId == 265598
    assert cd.minTick == 0.01 and cd.timeZoneId == "US/Eastern" and cd.longName == "APPLE INC"
    assert len(cd.marketRuleIds.split(",")) == len(cd.validExchanges.split(","))


def test_session_strings_in_ib_format_across_dst() -> None:
    # Friday 2026-03-06; US clocks go forward on Sunday 2026-03-08.
    cd = AAPL.contract_details(utc(2026, 3, 6, 15))
    assert cd.liquidHours.split(";")[:4] == [
        "20260306:0930-20260306:1600",
        "20260307:CLOSED",
        "20260308:CLOSED",
        "20260309:0930-20260309:1600",
    ]
    assert cd.tradingHours.startswith("20260306:0400-20260306:2000;")
    sessions = cd.liquidSessions()  # ib_insync parses our string
    assert [s.start.astimezone(UTC) for s in sessions[:2]] == [
        utc(2026, 3, 6, 14, 30),
        utc(2026, 3, 9, 13, 30),
    ]
    assert AAPL.session_open(date(2026, 3, 6)) == utc(2026, 3, 6, 14, 30)
    assert AAPL.session_close(date(2026, 3, 9)) == utc(2026, 3, 9, 20)
    assert AAPL.session_open(date(2026, 3, 7)) is None


def test_forex_week_runs_sunday_to_friday_17_00_eastern() -> None:
    hours = EUR.contract_details(utc(2026, 3, 6, 15)).tradingHours.split(";")
    assert hours[:3] == [
        "20260305:1700-20260306:1700",
        "20260307:CLOSED",
        "20260308:1700-20260309:1700",  # Monday's session opens Sunday, after the DST change
    ]
    assert not EUR.is_trading(utc(2026, 3, 8, 20, 59))  # Sunday 16:59 EDT
    assert EUR.is_trading(utc(2026, 3, 8, 21, 0))
    assert EUR.is_trading(utc(2026, 3, 6, 21, 59))  # Friday 16:59 EST
    assert not EUR.is_trading(utc(2026, 3, 6, 22, 0))
    assert not EUR.is_trading(utc(2026, 3, 7, 12))
    assert EUR.trading_day(utc(2026, 3, 8, 23)) == date(2026, 3, 9)


def test_liquid_and_trading_hours_of_a_stock() -> None:
    assert AAPL.is_liquid(utc(2026, 11, 24, 14, 30)) and not AAPL.is_liquid(
        utc(2026, 11, 24, 14, 29)
    )
    assert not AAPL.is_liquid(utc(2026, 11, 24, 21)) and AAPL.is_trading(utc(2026, 11, 24, 21))
    assert AAPL.is_liquid(utc(2026, 7, 1, 13, 30))  # summer: 09:30 EDT is 13:30 UTC
    assert AAPL.is_trading(utc(2026, 11, 24, 9)) and not AAPL.is_trading(utc(2026, 11, 24, 8, 59))
    assert not AAPL.is_trading(utc(2026, 11, 28, 15))  # Saturday


def _write(tmp_path: Path, doc: object) -> Path:
    path = tmp_path / "instruments.yaml"
    path.write_text(yaml.safe_dump(doc))
    return path


GOOD = {
    "symbol": "AAPL",
    "secType": "STK",
    "exchange": "SMART",
    "primaryExchange": "NASDAQ",
    "currency": "USD",
    "conId": 1,
    "minTick": 0.01,
    "timeZoneId": "US/Eastern",
    "longName": "A",
    "tradingHours": "04:00-20:00",
    "liquidHours": "09:30-16:00",
}


@pytest.mark.parametrize(
    ("entries", "needle"),
    [
        (
            [{k: v for k, v in GOOD.items() if k != "conId"}],
            r"instruments\[0\] \(AAPL\): missing key 'conId'",
        ),
        ([{**GOOD, "conid": 3}], r"instruments\[0\] \(AAPL\): unknown key 'conid'"),
        ([{**GOOD, "conId": "x"}], r"key 'conId' has a bad value 'x'"),
        ([{**GOOD, "secType": "OPT"}], r"key 'secType' must be STK or CASH"),
        ([{**GOOD, "timeZoneId": "Mars/Base"}], r"key 'timeZoneId'"),
        ([{**GOOD, "liquidHours": "9.30 to 4"}], r"key 'liquidHours'"),
        ([{**GOOD, "spread": 0.001}], r"key 'spread' must be >= minTick"),
        ([GOOD, {**GOOD, "symbol": "B"}], r"instruments\[1\] \(B\): duplicate conId 1"),
        (["AAPL"], r"instruments\[0\]: expected a mapping"),
    ],
)
def test_bad_files_name_file_entry_and_key(
    tmp_path: Path, entries: list[object], needle: str
) -> None:
    path = _write(tmp_path, {"instruments": entries})
    with pytest.raises(InstrumentError, match=needle) as err:
        Instruments.load(path)
    assert str(path) in str(err.value)


def test_unreadable_and_invalid_yaml(tmp_path: Path) -> None:
    with pytest.raises(InstrumentError, match="cannot read"):
        Instruments.load(tmp_path / "missing.yaml")
    bad = tmp_path / "bad.yaml"
    bad.write_text("instruments: [\n")
    with pytest.raises(InstrumentError, match="not valid YAML"):
        Instruments.load(bad)


def test_defaults_per_sec_type_fill_entries(tmp_path: Path) -> None:
    stk = {k: v for k, v in GOOD.items() if k not in ("symbol", "conId", "longName")}
    path = _write(
        tmp_path,
        {
            "defaults": {"STK": stk},
            "instruments": [{"symbol": "X", "secType": "STK", "conId": 9, "longName": "X"}],
        },
    )
    (x,) = Instruments.load(path)
    assert x.liquid_hours == "09:30-16:00" and x.spread == 0.01
