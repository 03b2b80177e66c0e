"""The IB adapters of the broker port and the venue port: ib_insync's ``IB``, as it is.

Live, paper and the simulated gateway (bot/gateway) all come through here; the bar source for
them is ``bot.feed.Feed``.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from bot.config import ScannerConfig
from bot.daily_scan import ScanRow, request_scan
from bot.ib_client import IB, Contract, ContractDetails, Fill, Order, Position, Trade


class IbBroker:
    """``BrokerPort`` over ib_insync. ``last_order_id``: the highest orderId already used
    (the journal's, bot/journal.py ``max_order_id``)."""

    __slots__ = ("_last_id", "ib")

    def __init__(self, ib: IB, last_order_id: int = 0) -> None:
        self.ib = ib
        self._last_id = last_order_id

    def place_order(self, contract: Contract, order: Order) -> Trade:
        return self.ib.placeOrder(contract, order)

    def cancel_order(self, order: Order) -> None:
        self.ib.cancelOrder(order)

    def global_cancel(self) -> None:
        self.ib.reqGlobalCancel()

    def next_order_id(self) -> int:
        """Above every id handed out before, whatever nextValidId said: a stale one (IB's
        after a reconnect, a rollback) would make a new order modify or collide with an old
        one of the same id (IB keys orders by client and orderId)."""
        client = self.ib.client
        client.updateReqId(self._last_id + 1)
        self._last_id = int(client.getReqId())
        return self._last_id

    async def executions(self) -> list[Fill]:
        return await self.ib.reqExecutionsAsync()

    def open_trades(self) -> list[Trade]:
        return self.ib.openTrades()

    def trades(self) -> list[Trade]:
        return self.ib.trades()

    def positions(self) -> list[Position]:
        return self.ib.positions()


class IbVenue:
    """``Venue`` over ib_insync: the broker's clock, contract details, scans, account."""

    __slots__ = ("_time", "ib")

    def __init__(self, ib: IB) -> None:
        self.ib = ib
        self._time: asyncio.Future[datetime] | None = None

    def connected(self) -> bool:
        return self.ib.isConnected()

    async def current_time(self) -> datetime:
        """reqCurrentTime, one at a time: ib_insync keeps a single future for it, so a second
        request while one is in flight would leave the first caller waiting for ever."""
        if self._time is None or self._time.done():
            self._time = asyncio.ensure_future(self.ib.reqCurrentTimeAsync())
        return await asyncio.shield(self._time)

    async def contract_details(self, contract: Contract) -> list[ContractDetails]:
        return await self.ib.reqContractDetailsAsync(contract)

    async def scan(self, cfg: ScannerConfig, timeout: float) -> list[ScanRow]:
        return await request_scan(self.ib, cfg, timeout)

    def net_liquidation(self, account: str) -> float | None:
        for v in self.ib.accountValues(account):
            if v.tag == "NetLiquidation" and v.currency in ("USD", "BASE", ""):
                try:
                    return float(v.value)
                except ValueError:
                    return None
        return None
