"""Connecting: handshake, start-up answers, timing, version choice, client ids."""

from __future__ import annotations

import asyncio
import struct
import time
from datetime import timedelta
from pathlib import Path

import pytest
from gateway_helpers import ACCOUNT, START, client, flat, make_config, settle
from ib_insync import IB, MarketOrder
from support.waiting import wait_until

from bot.gateway.server import Gateway


async def test_connect_is_fast_and_complete(gateway: Gateway) -> None:
    ib = IB()
    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: errors.append(code)
    t0 = time.perf_counter()
    await ib.connectAsync("127.0.0.1", gateway.port, clientId=7, timeout=5)
    elapsed = time.perf_counter() - t0
    try:
        assert elapsed < 1.0, f"connect took {elapsed:.3f} s"
        assert ib.isConnected()
        assert ib.managedAccounts() == [ACCOUNT]
        assert ib.client.serverVersion() == 176
        assert {2104, 2106, 2158} <= set(errors)
        values = {v.tag: v.value for v in ib.accountValues() if v.currency in ("USD", "")}
        assert values["NetLiquidation"] == "1000000.00"
        assert values["AccountCode"] == ACCOUNT
        assert ib.positions() == [] and ib.openTrades() == [] and ib.fills() == []
        assert await ib.reqCurrentTimeAsync() == START
    finally:
        ib.disconnect()


async def test_next_valid_id_and_req_ids(ib: IB) -> None:
    assert ib.client.getReqId() >= 1
    ib.client.reqIds(1)
    await settle(ib)


async def test_duplicate_client_id_gets_326(gateway: Gateway) -> None:
    async with client(gateway, client_id=3) as first:
        second = IB()
        codes: list[int] = []
        second.errorEvent += lambda req_id, code, text, contract: codes.append(code)
        with pytest.raises((asyncio.TimeoutError, ConnectionError)):
            await second.connectAsync("127.0.0.1", gateway.port, clientId=3, timeout=0.5)
        assert 326 in codes
        assert not second.isConnected()
        assert first.isConnected()
        await settle(first)  # the first client is unaffected
    # once the first one has gone, the id is free again
    async with client(gateway, client_id=3) as again:
        assert again.isConnected()


async def test_two_clients_at_once(gateway: Gateway) -> None:
    async with client(gateway, client_id=1) as a, client(gateway, client_id=2) as b:
        ta, tb = await asyncio.gather(a.reqCurrentTimeAsync(), b.reqCurrentTimeAsync())
        assert ta == tb == START
        assert sorted(gateway.sessions) == [1, 2]
    await wait_until(lambda: gateway.sessions == {}, what="both sessions closed")


@pytest.mark.parametrize(
    ("pinned", "versions", "expected"),
    [
        (None, b"v157..176", b"176"),
        (None, b"v100..200", b"176"),
        (None, b"v157..160", b"160"),
        (163, b"v157..176", b"163"),
        (None, b"v100..150", None),
        (170, b"v157..166", None),
    ],
)
async def test_version_choice(
    market_files: tuple[Path, Path], pinned: int | None, versions: bytes, expected: bytes | None
) -> None:
    gw = Gateway(*make_config(market_files, server_version=pinned))
    await gw.start()
    try:
        reader, writer = await asyncio.open_connection("127.0.0.1", gw.port)
        writer.write(b"API\0" + struct.pack(">I", len(versions)) + versions)
        head = await asyncio.wait_for(reader.read(4), 2)
        if expected is None:
            assert head == b""  # a clean close, nothing sent
        else:
            (size,) = struct.unpack(">I", head)
            fields = (await reader.readexactly(size)).split(b"\0")
            assert fields[0] == expected and fields[-1] == b"" and len(fields) == 3
        writer.close()
    finally:
        await gw.stop()


@pytest.mark.parametrize("version", [157, 158, 163, 166, 170, 176])
async def test_ib_insync_works_at_every_pinned_version(
    market_files: tuple[Path, Path], version: int
) -> None:
    gw = Gateway(*make_config(market_files, server_version=version))
    await gw.start()
    try:
        async with client(gw) as ib:
            assert ib.client.serverVersion() == version
            [c] = await ib.qualifyContractsAsync(flat())
            assert c.conId == 1001
            trade = ib.placeOrder(c, MarketOrder("BUY", 10))
            await settle(ib)  # the order is in before the market moves
            await gw.advance(timedelta(seconds=5))
            await settle(ib)
            assert trade.orderStatus.status == "Filled"
            assert trade.fills[0].execution.price == 100.01
            assert (await ib.reqCompletedOrdersAsync(False))[0].orderStatus.status == "Filled"
    finally:
        await gw.stop()


async def test_pinning_an_unsupported_version_is_refused(market_files: tuple[Path, Path]) -> None:
    with pytest.raises(ValueError, match="not supported"):
        Gateway(*make_config(market_files, server_version=150))


async def test_client_id_zero(gateway: Gateway) -> None:
    async with client(gateway, client_id=0) as ib:  # ib_insync also sends reqAutoOpenOrders
        assert await ib.reqCurrentTimeAsync() == START
