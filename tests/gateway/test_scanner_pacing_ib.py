"""The scanner and IB's pacing rules through the unmodified ib_insync client.

Scanner: the crafted market of test_scanner.py, at Tuesday 14:32 UTC (its table, by hand):

    symbol  prev   open (gap)       last (change)     volume   primary
    AAPL    100    102   (+2 %)     105    (+5 %)      2 000   NASDAQ
    MSFT    200    196   (-2 %)     194    (-3 %)     10 000   NASDAQ
    NVDA     50     52   (+4 %)      51    (+2 %)        600   NASDAQ
    INTC     20     19.8 (-1 %)      20.5  (+2.5 %)   40 000   NASDAQ
    AMZN     10     10   (0 %)        9    (-10 %)       200   NASDAQ
    IBM     100    110  (+10 %)     120   (+20 %)     50 000   NYSE
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from gateway_helpers import client, errors, make_config, ramp, settle
from ib_insync import IB, Contract, ScanData, ScannerSubscription
from test_scanner import NOW, make_market

from bot.gateway.pacing_rules import PacingLimits
from bot.gateway.server import Gateway

PACING_TEXT = (
    "Historical Market Data Service error message:Historical data request pacing violation"
)


@pytest.fixture
async def scan_gateway(market_files: tuple[Path, Path]) -> AsyncIterator[Gateway]:
    market, instruments = make_market()
    gw = Gateway(*make_config(market_files, start=NOW), instruments=instruments, market=market)
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


def contract_of(row: ScanData) -> Contract:
    c = row.contractDetails.contract
    assert c is not None
    return c


def sub(code: str, **kw: object) -> ScannerSubscription:
    s = ScannerSubscription(instrument="STK", locationCode="STK.US.MAJOR", scanCode=code)
    for k, v in kw.items():
        setattr(s, k, v)
    return s


async def test_scanner_parameters_xml(scan_gateway: Gateway) -> None:
    async with client(scan_gateway) as ib:
        xml = await ib.reqScannerParametersAsync()
        assert xml.startswith('<?xml version="1.0" encoding="UTF-8"?>')
        assert "<ScanParameterResponse>" in xml
        for code in (
            "TOP_PERC_GAIN",
            "TOP_PERC_LOSE",
            "HIGH_OPEN_GAP",
            "LOW_OPEN_GAP",
            "MOST_ACTIVE",
        ):
            assert f"<scanCode>{code}</scanCode>" in xml


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("TOP_PERC_GAIN", ["IBM", "AAPL", "INTC", "NVDA"]),  # +20, +5, +2.5, +2
        ("TOP_PERC_LOSE", ["AMZN", "MSFT"]),  # -10, -3
        ("HIGH_OPEN_GAP", ["IBM", "NVDA", "AAPL"]),  # +10, +4, +2 (AMZN's 0 is no gap)
        ("LOW_OPEN_GAP", ["MSFT", "INTC"]),  # -2, -1
        ("MOST_ACTIVE", ["IBM", "INTC", "MSFT", "AAPL", "NVDA", "AMZN"]),
    ],
)
async def test_scanner_data_ranks_by_hand(
    scan_gateway: Gateway, code: str, expected: list[str]
) -> None:
    async with client(scan_gateway) as ib:
        rows = await ib.reqScannerDataAsync(sub(code))
        assert [contract_of(r).symbol for r in rows] == expected
        assert [r.rank for r in rows] == list(range(len(expected)))
        assert {contract_of(r).secType for r in rows} == {"STK"}
        assert all(contract_of(r).conId for r in rows)


async def test_scanner_subscription_updates_then_cancel(scan_gateway: Gateway) -> None:
    async with client(scan_gateway) as ib:
        seen = errors(ib)
        live = ib.reqScannerSubscription(sub("MOST_ACTIVE", numberOfRows=2))
        await settle(ib)
        assert [contract_of(r).symbol for r in live] == ["IBM", "INTC"]
        updates: list[list[str]] = []
        live.updateEvent += lambda rows: updates.append([contract_of(r).symbol for r in rows])
        await scan_gateway.advance(timedelta(seconds=30))  # IB refreshes about every 30 s
        await settle(ib)
        assert updates == [["IBM", "INTC"]]
        ib.cancelScannerSubscription(live)
        await settle(ib)
        await scan_gateway.advance(timedelta(seconds=60))
        await settle(ib)
        assert updates == [["IBM", "INTC"]]  # nothing after the cancel
        assert [(code, text) for _, code, text in seen] == [
            (
                162,
                "Historical Market Data Service error message:"
                f"API scanner subscription cancelled: {live.reqId}",
            )
        ]


async def test_a_scan_the_gateway_does_not_offer_gets_162(scan_gateway: Gateway) -> None:
    async with client(scan_gateway) as ib:
        seen = errors(ib)
        assert list(await ib.reqScannerDataAsync(sub("HOT_BY_VOLUME"))) == []
        assert [(code, text) for _, code, text in seen] == [
            (
                162,
                "Historical Market Data Service error message:"
                "Scanner type with code HOT_BY_VOLUME is disabled.",
            )
        ]


# ---- pacing --------------------------------------------------------------------------------


async def test_seventh_request_for_one_contract_within_two_seconds_gets_162(
    gateway: Gateway, ib: IB
) -> None:
    now = [1000.0]
    gateway.wall = lambda: now[0]
    seen = errors(ib)
    c = ramp()
    await ib.qualifyContractsAsync(c)
    sizes = ["1 min", "2 mins", "3 mins", "5 mins", "10 mins", "15 mins", "30 mins"]
    results = []
    for size in sizes:  # all different (not identical), all RAMP/TRADES, all inside 1.9 s
        results.append(await ib.reqHistoricalDataAsync(c, "", "1 D", size, "TRADES", True))
        now[0] += 0.3
    assert [len(r) for r in results] == [390, 195, 130, 78, 39, 26, 0]
    assert [(code, text) for _, code, text in seen] == [(162, PACING_TEXT)]
    now[0] = 1000.0 + 2.0  # two seconds after the first: room for one more
    assert len(await ib.reqHistoricalDataAsync(c, "", "1 D", "30 mins", "TRADES", True)) == 13


async def test_identical_request_within_fifteen_seconds_gets_162(gateway: Gateway, ib: IB) -> None:
    now = [1000.0]
    gateway.wall = lambda: now[0]
    seen = errors(ib)
    c = ramp()
    await ib.qualifyContractsAsync(c)
    assert len(await ib.reqHistoricalDataAsync(c, "", "1 D", "1 hour", "TRADES", True)) == 7
    now[0] += 14.9
    assert list(await ib.reqHistoricalDataAsync(c, "", "1 D", "1 hour", "TRADES", True)) == []
    assert [(code, text) for _, code, text in seen] == [(162, PACING_TEXT)]
    now[0] = 1015.0
    assert len(await ib.reqHistoricalDataAsync(c, "", "1 D", "1 hour", "TRADES", True)) == 7


async def test_more_than_fifty_messages_a_second_gets_100(market_files: tuple[Path, Path]) -> None:
    gw = Gateway(*make_config(market_files, pacing=PacingLimits(enabled=False)))
    await gw.start()
    now = [500.0]
    gw.wall = lambda: now[0]
    try:
        async with client(gw) as ib:
            seen = errors(ib)
            ib.client.MaxRequests = 0  # ib_insync's own throttle off: a burst goes out at once
            for _ in range(51):
                ib.client.reqCurrentTime()
            await settle(ib)
            assert [(code, text) for _, code, text in seen] == [
                (100, "Max rate of messages per second has been exceeded:max=50 rec=51 (1)")
            ]
    finally:
        await gw.stop()
