"""Fixtures of the gateway tests (the crafted market is described in gateway_helpers)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from gateway_helpers import client, make_config, write_market
from ib_insync import IB
from order_market import write_order_market

from bot.gateway.server import Gateway


@pytest.fixture(scope="session")
def market_files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    yield write_market(tmp_path_factory.mktemp("gateway-market"))


@pytest.fixture
async def gateway(market_files: tuple[Path, Path]) -> AsyncIterator[Gateway]:
    gw = Gateway(*make_config(market_files))
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


@pytest.fixture
async def ib(gateway: Gateway) -> AsyncIterator[IB]:
    async with client(gateway) as conn:
        yield conn


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Path, Path]]:
    """The staircase market of order_market.py (hand-computable fill prices)."""
    yield write_order_market(tmp_path_factory.mktemp("order-market"))
