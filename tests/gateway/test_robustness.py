"""Bad input never takes the server down: garbage handshakes, unknown message ids, malformed
and oversize frames, random bytes. The offending connection gets an error or is closed; an
ib_insync client connected at the same time keeps working."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import struct
from datetime import timedelta
from pathlib import Path

import pytest
from gateway_helpers import START, client, flat, make_config, sent, settle
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ib_insync import IB, Contract, ExecutionFilter, LimitOrder, MarketOrder
from ib_insync.client import Client
from support.waiting import wait_until

from bot.gateway.server import Gateway
from bot.gateway.wire import MAX_FRAME, frame, split_fields


async def _open(port: int, start_api: bool = True, client_id: int = 999):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(b"API\0" + struct.pack(">I", 9) + b"v157..176")
    (size,) = struct.unpack(">I", await reader.readexactly(4))
    await reader.readexactly(size)
    if start_api:
        writer.write(frame(["71", "2", str(client_id), ""]))
        await _messages(reader, 5)  # managedAccounts, nextValidId, 3 farm notices
    return reader, writer


async def _messages(reader: asyncio.StreamReader, n: int) -> list[list[str]]:
    out = []
    for _ in range(n):
        (size,) = struct.unpack(">I", await asyncio.wait_for(reader.readexactly(4), 2))
        out.append(split_fields(await reader.readexactly(size)))
    return out


async def _closed(reader: asyncio.StreamReader) -> bool:
    try:
        return await asyncio.wait_for(reader.read(), 2) is not None
    except (TimeoutError, ConnectionError):
        return False


async def test_not_a_tws_client_is_closed(gateway: Gateway, ib: IB) -> None:
    reader, writer = await asyncio.open_connection("127.0.0.1", gateway.port)
    writer.write(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
    assert await _closed(reader)
    assert await ib.reqCurrentTimeAsync() == START


async def test_unknown_and_malformed_messages_get_errors(gateway: Gateway, ib: IB) -> None:
    reader, writer = await _open(gateway.port)
    writer.write(frame(["12345", "1"]) + frame(["abc"]) + frame(["3", "1"]) + frame(["49", "1"]))
    unknown, not_a_number, malformed, current_time = await _messages(reader, 4)
    assert unknown[:4] == ["4", "2", "-1", "505"] and not_a_number[3] == "505"
    assert malformed[:4] == ["4", "2", "1", "320"]  # placeOrder 1, cut short
    assert current_time[0] == "49"  # the connection still serves requests
    writer.close()
    assert await ib.reqCurrentTimeAsync() == START


async def test_oversize_frame_closes_only_that_connection(gateway: Gateway, ib: IB) -> None:
    reader, writer = await _open(gateway.port)
    writer.write(struct.pack(">I", MAX_FRAME + 1) + b"x" * 100)
    [err] = await _messages(reader, 1)
    assert err[3] == "320" and "exceeds" in err[4]
    assert await _closed(reader)
    assert await ib.reqCurrentTimeAsync() == START


async def test_requests_before_start_api_are_refused(gateway: Gateway) -> None:
    reader, writer = await _open(gateway.port, start_api=False)
    writer.write(frame(["49", "1"]))
    [err] = await _messages(reader, 1)
    assert err[3] == "321"
    writer.close()


# ---- property: random frames and bytes at a live server ---------------------------------

_KNOWN_IDS = [
    str(i)
    for i in (
        1,
        2,
        3,
        4,
        5,
        6,
        7,
        8,
        9,
        10,
        16,
        17,
        20,
        22,
        24,
        25,
        49,
        50,
        51,
        58,
        59,
        61,
        62,
        63,
        64,
        71,
        74,
        76,
        77,
        81,
        87,
        91,
        92,
        94,
        97,
        98,
        99,
        104,
    )
]
_field = st.one_of(
    st.sampled_from(
        [
            "",
            "0",
            "1",
            "-1",
            "5",
            "FLAT",
            "STK",
            "SMART",
            "USD",
            "1001",
            "1 D",
            "1 min",
            "TRADES",
            "BUY",
            "MKT",
            "100",
            "1e308",
            "nan",
            "inf",
            "Infinite",
            "BAG",
            "99999999999999999999",
            "2",
            "AllLast",
        ]
    ),
    st.text(max_size=12),
)
_frame = st.builds(
    lambda head, rest: frame([head, *rest]),
    st.one_of(st.sampled_from(_KNOWN_IDS), st.text(max_size=4)),
    st.lists(_field, max_size=120),
)


def _valid_requests(c: Client) -> None:
    """Well-formed requests to mutate, so that random input also reaches the handlers."""
    contract = Contract(conId=1001, symbol="FLAT", secType="STK", exchange="SMART", currency="USD")
    c.reqMktData(1, contract, "", False, False, [])
    c.reqHistoricalData(2, contract, "", "1 D", "5 mins", "TRADES", True, 1, True, [])
    c.reqHeadTimeStamp(3, contract, "TRADES", True, 1)
    c.reqContractDetails(4, contract)
    c.reqRealTimeBars(5, contract, 5, "TRADES", True, [])
    c.reqTickByTickData(6, contract, "Last", 0, False)
    c.placeOrder(7, contract, LimitOrder("BUY", 10, 99.0))
    c.placeOrder(8, contract, MarketOrder("SELL", 10))
    c.cancelOrder(7)
    c.reqExecutions(9, ExecutionFilter())
    c.reqPnLSingle(10, "DU1234567", "", 1001)
    c.reqAccountSummary(11, "All", "NetLiquidation")
    c.reqAccountUpdates(True, "DU1234567")
    c.reqAccountUpdatesMulti(12, "DU1234567", "", False)
    c.reqMatchingSymbols(13, "FL")
    c.reqMarketRule(26)
    c.reqPositions()
    c.reqOpenOrders()
    c.reqAllOpenOrders()
    c.reqCompletedOrders(False)


_VALID = sent(176, _valid_requests)


@st.composite
def _mutated(draw: st.DrawFn) -> bytes:
    fields = list(draw(st.sampled_from(_VALID)))
    for _ in range(draw(st.integers(0, 3))):
        i = draw(st.integers(1, len(fields) - 1))
        action = draw(st.sampled_from(["replace", "drop", "cut", "add"]))
        if action == "replace":
            fields[i] = draw(_field)
        elif action == "drop":
            del fields[i]
        elif action == "cut":
            fields = fields[:i]
        else:
            fields.insert(i, draw(_field))
        if len(fields) < 2:
            break
    return frame(fields)


_chunk = st.one_of(_frame, _mutated(), _mutated(), st.binary(max_size=64))


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_random_frames_never_take_the_server_down(
    market_files: tuple[Path, Path], caplog: pytest.LogCaptureFixture
) -> None:
    loop = asyncio.new_event_loop()
    asyncio.set_event_loop(loop)  # ib_insync looks the loop up
    gw = Gateway(*make_config(market_files))
    loop.run_until_complete(gw.start())
    good = IB()
    loop.run_until_complete(good.connectAsync("127.0.0.1", gw.port, clientId=1, timeout=5))
    caplog.set_level(logging.WARNING, logger="bot.gateway")

    async def attack(chunks: list[bytes], handshake: bool) -> None:
        if handshake:
            reader, writer = await _open(gw.port, client_id=1000)
        else:
            reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(b"".join(chunks))
        with contextlib.suppress(TimeoutError, ConnectionError):
            await asyncio.wait_for(reader.read(1 << 20), 0.02)
        writer.close()

    @settings(max_examples=80, deadline=None, suppress_health_check=list(HealthCheck))
    @given(st.lists(_chunk, max_size=12), st.booleans())
    def throw(chunks: list[bytes], handshake: bool) -> None:
        loop.run_until_complete(attack(chunks, handshake))
        assert loop.run_until_complete(good.reqCurrentTimeAsync()) == START

    try:
        throw()
        crashed = [r for r in caplog.records if "unexpected failure" in r.getMessage()]
        assert crashed == []
        # every attacker is gone, the good client stays
        gone = wait_until(lambda: sorted(gw.sessions) == [1], what="the attackers gone")
        loop.run_until_complete(gone)
        assert good.isConnected()
    finally:
        good.disconnect()
        loop.run_until_complete(gw.stop())
        loop.close()
        asyncio.set_event_loop(None)


async def test_a_client_that_never_reads_does_not_stall_others(gateway: Gateway) -> None:
    async with client(gateway, 77) as stuck, client(gateway, 2) as ib:
        stuck.reqMktData(flat())
        await settle(stuck)
        stuck.client.conn.transport.pause_reading()  # subscribed, and from now on reads nothing
        ticker = ib.reqMktData(flat())
        await gateway.advance(timedelta(minutes=5))
        await settle(ib)
        # every tick of the five minutes reached the reading client (1,000 shares a minute)
        assert gateway.clock.now() == START + timedelta(minutes=5)
        assert ticker.volume == 5 * 1000 and ticker.last == 100.0
        assert sorted(gateway.sessions) == [2, 77]  # the one that does not read is not dropped
