"""Scanner ranks on a crafted market, filters, row cap, errors and the parameters XML.

Each stock has three one-minute bars: Monday 2026-11-23 15:59 ET (its close is the previous
close), then Tuesday 09:30 and 09:31 ET (14:30, 14:31 UTC). At 14:32 UTC a stock's last is the
second Tuesday bar's close and its volume the two Tuesday bars' volumes:

    symbol  prev   open (gap)       last (change)     volume   primary
    AAPL    100    102   (+2 %)     105    (+5 %)      2 000   NASDAQ
    MSFT    200    196   (-2 %)     194    (-3 %)     10 000   NASDAQ
    NVDA     50     52   (+4 %)      51    (+2 %)        600   NASDAQ
    INTC     20     19.8 (-1 %)      20.5  (+2.5 %)   40 000   NASDAQ
    AMZN     10     10   (0 %)        9    (-10 %)       200   NASDAQ
    IBM     100    110  (+10 %)     120   (+20 %)     50 000   NYSE
    EUR.USD   1      1.1            1.2                  ...   CASH (never a stock scan)
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest
from ib_insync import ScannerSubscription

from bot.gateway.scanner import (
    MAX_ROWS,
    ScannerError,
    run_scan,
    scanner_parameters_xml,
)
from bot.sim.datafile import SourceBars
from bot.sim.instruments import Instruments
from bot.sim.market import Market

STOCKS = {  # symbol: (conId, primary, prev, open, last, volume per Tuesday bar)
    "AAPL": (1, "NASDAQ", 100.0, 102.0, 105.0, 1000.0),
    "MSFT": (2, "NASDAQ", 200.0, 196.0, 194.0, 5000.0),
    "NVDA": (3, "NASDAQ", 50.0, 52.0, 51.0, 300.0),
    "INTC": (4, "NASDAQ", 20.0, 19.8, 20.5, 20000.0),
    "AMZN": (5, "NASDAQ", 10.0, 10.0, 9.0, 100.0),
    "IBM": (6, "NYSE", 100.0, 110.0, 120.0, 25000.0),
}
EUR = 7
NOW = datetime(2026, 11, 24, 14, 32, tzinfo=UTC)


def ts(y: int, mo: int, d: int, h: int, mi: int) -> int:
    return int(datetime(y, mo, d, h, mi, tzinfo=UTC).timestamp())


TIMES = np.array([ts(2026, 11, 23, 20, 59), ts(2026, 11, 24, 14, 30), ts(2026, 11, 24, 14, 31)])


def instruments(extra: int = 0) -> Instruments:
    stk = [
        {"symbol": s, "secType": "STK", "conId": cid, "primaryExchange": px, "longName": s}
        for s, (cid, px, *_) in STOCKS.items()
    ]
    stk += [
        {"symbol": f"X{n}", "secType": "STK", "conId": 100 + n, "longName": f"X{n}"}
        for n in range(extra)
    ]
    cash = {"symbol": "EUR", "localSymbol": "EUR.USD", "secType": "CASH", "conId": EUR}
    doc = {
        "defaults": {
            "STK": {
                "exchange": "SMART",
                "primaryExchange": "NASDAQ",
                "currency": "USD",
                "minTick": 0.01,
                "timeZoneId": "US/Eastern",
                "tradingHours": "04:00-20:00",
                "liquidHours": "09:30-16:00",
            },
            "CASH": {
                "exchange": "IDEALPRO",
                "currency": "USD",
                "minTick": 0.00005,
                "timeZoneId": "US/Eastern",
                "tradingHours": "17:00-17:00",
                "liquidHours": "17:00-17:00",
                "longName": "European Monetary Union Euro",
            },
        },
        "instruments": [*stk, cash],
    }
    return Instruments.from_dict(doc)


def bars(prev: float, open_: float, last: float, volume: float) -> SourceBars:
    mid = round((open_ + last) / 2, 2)
    o = np.array([prev, open_, mid])
    c = np.array([prev, mid, last])
    return SourceBars(
        path=Path("crafted"),
        bar_seconds=60,
        time=TIMES,
        open=o,
        high=np.maximum(o, c) + 0.1,
        low=np.minimum(o, c) - 0.1,
        close=c,
        volume=np.array([volume * 3, volume, volume]),
    )


def make_market(extra: int = 0) -> tuple[Market, Instruments]:
    insts = instruments(extra)
    data = {cid: bars(p, o, la, v) for cid, _, p, o, la, v in STOCKS.values()}
    data[EUR] = bars(1.0, 1.1, 1.2, 1_000_000.0)
    data.update({100 + n: bars(10.0, 10.0, 11.0, 100.0 + n) for n in range(extra)})
    return Market.from_bars(insts, data, seed=3), insts


@pytest.fixture(scope="module")
def market() -> tuple[Market, Instruments]:
    return make_market()


def scan(mk: tuple[Market, Instruments], code: str, now: datetime = NOW, **kw: object) -> list[str]:
    sub = ScannerSubscription(instrument="STK", locationCode="STK.US.MAJOR", scanCode=code)
    for k, v in kw.items():
        setattr(sub, k, v)
    rows = run_scan(mk[0], mk[1], sub, now)
    assert [r.rank for r in rows] == list(range(len(rows)))
    return [r.instrument.symbol for r in rows]


def test_day_stats_match_the_table(market: tuple[Market, Instruments]) -> None:
    s = market[0].trading_day_stats(1, NOW)
    assert (s.prev_close, s.open, s.last, s.volume) == (100.0, 102.0, 105.0, 2000.0)


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("TOP_PERC_GAIN", ["IBM", "AAPL", "INTC", "NVDA"]),
        ("TOP_PERC_LOSE", ["AMZN", "MSFT"]),
        ("HIGH_OPEN_GAP", ["IBM", "NVDA", "AAPL"]),
        ("LOW_OPEN_GAP", ["MSFT", "INTC"]),
        ("MOST_ACTIVE", ["IBM", "INTC", "MSFT", "AAPL", "NVDA", "AMZN"]),
    ],
)
def test_scan_codes_rank_the_day_so_far(
    market: tuple[Market, Instruments], code: str, expected: list[str]
) -> None:
    assert scan(market, code) == expected


def test_nasdaq_location_leaves_out_the_nyse_stock(market: tuple[Market, Instruments]) -> None:
    assert scan(market, "TOP_PERC_GAIN", locationCode="STK.NASDAQ") == ["AAPL", "INTC", "NVDA"]


def test_price_and_volume_filters(market: tuple[Market, Instruments]) -> None:
    # last prices: IBM 120, MSFT 194, AAPL 105, NVDA 51, INTC 20.5, AMZN 9 (bounds inclusive)
    assert scan(market, "MOST_ACTIVE", abovePrice=51.0) == ["IBM", "MSFT", "AAPL", "NVDA"]
    assert scan(market, "MOST_ACTIVE", belowPrice=105.0) == ["INTC", "AAPL", "NVDA", "AMZN"]
    assert scan(market, "MOST_ACTIVE", aboveVolume=2000) == ["IBM", "INTC", "MSFT", "AAPL"]
    assert scan(market, "MOST_ACTIVE", abovePrice=50.0, belowPrice=150.0, aboveVolume=1000) == [
        "IBM",
        "AAPL",
    ]


def test_number_of_rows(market: tuple[Market, Instruments]) -> None:
    assert scan(market, "MOST_ACTIVE", numberOfRows=2) == ["IBM", "INTC"]
    assert len(scan(market, "MOST_ACTIVE", numberOfRows=-1)) == 6


def test_rows_are_capped_at_fifty() -> None:
    mk = make_market(extra=50)  # 56 stocks with volume
    assert len(scan(mk, "MOST_ACTIVE")) == MAX_ROWS
    assert len(scan(mk, "MOST_ACTIVE", numberOfRows=80)) == MAX_ROWS


def test_scan_follows_the_simulated_time(market: tuple[Market, Instruments]) -> None:
    # After Tuesday's first bar, last is that bar's close (the open/last midpoint):
    # AAPL 103.5 (+3.5 %), INTC 20.15 (+0.75 %), NVDA 51.5 (+3 %), IBM 115 (+15 %).
    early = datetime(2026, 11, 24, 14, 31, tzinfo=UTC)
    assert scan(market, "TOP_PERC_GAIN", early) == ["IBM", "AAPL", "NVDA", "INTC"]
    # Monday evening: no previous close yet, so no % lists; volume still ranks.
    monday = datetime(2026, 11, 23, 21, 0, tzinfo=UTC)
    assert scan(market, "TOP_PERC_GAIN", monday) == []
    assert scan(market, "MOST_ACTIVE", monday)[:2] == ["IBM", "INTC"]
    # Before any data at all: nothing.
    assert scan(market, "MOST_ACTIVE", datetime(2026, 11, 20, tzinfo=UTC)) == []


@pytest.mark.parametrize(
    ("field", "value", "words"),
    [
        ("scanCode", "HOT_BY_VOLUME", "Scanner type with code HOT_BY_VOLUME is disabled."),
        ("locationCode", "STK.EU.IBIS", "Location STK.EU.IBIS is disabled."),
        ("instrument", "FUT.US", "Instrument FUT.US is disabled."),
    ],
)
def test_what_is_not_offered_is_an_hmds_error(
    market: tuple[Market, Instruments], field: str, value: str, words: str
) -> None:
    sub = ScannerSubscription(instrument="STK", locationCode="STK.US", scanCode="MOST_ACTIVE")
    setattr(sub, field, value)
    with pytest.raises(ScannerError) as e:
        run_scan(market[0], market[1], sub, NOW)
    assert e.value.code == 162
    assert e.value.text == "Historical Market Data Service error message:" + words


def test_parameters_xml_lists_what_run_scan_accepts() -> None:
    xml = scanner_parameters_xml()
    assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
    root = ET.fromstring(xml)
    assert root.tag == "ScanParameterResponse"
    assert [e.text for e in root.findall("InstrumentList/Instrument/type")] == ["STK"]
    top = root.findall("LocationTree/Location/locationCode")
    nested = root.findall("LocationTree/Location/LocationTree/Location/locationCode")
    assert [e.text for e in top] == ["STK.US"]
    assert [e.text for e in nested] == ["STK.US.MAJOR", "STK.NASDAQ"]
    codes = [e.text for e in root.findall("ScanTypeList/ScanType/scanCode")]
    assert codes == [
        "TOP_PERC_GAIN",
        "TOP_PERC_LOSE",
        "HIGH_OPEN_GAP",
        "LOW_OPEN_GAP",
        "MOST_ACTIVE",
    ]
    filters = {e.text for e in root.findall("FilterList/RangeFilter/AbstractField/code")}
    assert filters == {"priceAbove", "priceBelow", "volumeAbove"}
