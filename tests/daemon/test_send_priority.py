"""Orders and cancels overtake data requests queued by the client library's throttle
(bot/client/send_priority.py), in their own order, and the throttle's rate is kept."""

from __future__ import annotations

import asyncio
import struct
from collections.abc import Iterator
from typing import Any

import pytest

from bot.client.ib import new_ib


class Wire:
    """Stands in for the client's socket: what was written, in order, by message id."""

    def __init__(self) -> None:
        self.sent: list[str] = []

    def sendMsg(self, data: bytes) -> None:
        (n,) = struct.unpack(">I", data[:4])
        fields = data[4 : 4 + n].decode().split("\0")
        self.sent.append(f"{fields[0]}:{fields[2] if fields[0] == '1' else fields[-2]}")


@pytest.fixture
def client() -> Iterator[Any]:
    """A real client of the configured library, its socket replaced by a Wire."""
    ib = new_ib()
    c = ib.client
    c.conn = Wire()
    c.isConnected = lambda: True  # the library's own serializers check it
    c._serverVersion = 176
    yield c
    del c.isConnected  # unconnected again, as ib's finalizer expects


async def test_orders_and_cancels_go_ahead_of_queued_data_requests(client: Any) -> None:
    wire = client.conn
    client.MaxRequests, client.RequestsInterval = 2, 0.05  # a small throttle, same logic
    for i in range(6):  # reqMktData-shaped requests: "1", version, reqId, ...
        client.sendMsg(f"1\x0011\x00{i}\x00AAPL\x00")
    client.sendMsg("3\x0042\x00order-a\x00")  # placeOrder: id 3, orderId, ...
    client.cancelOrder(41)  # the library's own serialization: 4, 1, orderId, ...
    client.reqGlobalCancel()
    client.sendMsg("3\x0043\x00order-b\x00")
    for _ in range(100):
        if len(wire.sent) == 10:
            break
        await asyncio.sleep(0.01)
    assert wire.sent[:2] == ["1:0", "1:1"]  # sent before the queue filled
    assert [m.split(":")[0] for m in wire.sent[2:6]] == ["3", "4", "58", "3"]
    assert wire.sent[2] == "3:order-a" and wire.sent[5] == "3:order-b"
    assert wire.sent[6:] == ["1:2", "1:3", "1:4", "1:5"]  # the data requests, still in order


async def test_an_order_with_nothing_queued_goes_at_once(client: Any) -> None:
    wire = client.conn
    client.sendMsg("3\x0042\x00order-a\x00")
    assert wire.sent == ["3:order-a"]
