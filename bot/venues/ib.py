"""The IB adapters of the broker port and the venue port: ib_insync's ``IB``, as it is.

Live, paper and the simulated gateway (bot/gateway) all come through here; the bar source for
them is ``bot.market_data.ib_feed.Feed``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Collection
from datetime import datetime
from typing import Any

from eventkit import Event

from bot.client.ib import (
    IB,
    CommissionReport,
    Contract,
    ContractDetails,
    Execution,
    Fill,
    Order,
    Position,
    Trade,
)
from bot.config.strategies import ScannerConfig
from bot.ports.venue import ScanRow
from bot.trading.daily_scan import request_scan


class IbBroker:
    """``BrokerPort`` over ib_insync (or ib_async: the same wrapper fields).
    ``last_order_id``: the highest orderId already used (the journal's, bot/journal/store.py
    ``max_order_id``)."""

    __slots__ = ("_last_id", "ib", "unbound_commission_event", "unbound_fill_event")

    def __init__(self, ib: IB, last_order_id: int = 0) -> None:
        self.ib = ib
        self._last_id = last_order_id
        self.unbound_fill_event = Event("unbound_fill_event")
        self.unbound_commission_event = Event("unbound_commission_event")
        _follow_unbound(ib.wrapper, self)

    def forget(self, trades: Collection[Trade]) -> None:
        """Drop finished Trades from ib_insync's wrapper: ``trades`` (keyed by (clientId,
        orderId), or permId for orders it learned from reqCompletedOrders), ``permId2Trade``
        and their executions in ``fills``. ib_insync never drops them itself."""
        w = self.ib.wrapper
        for trade in trades:
            o = trade.order
            for key in (w.orderKey(o.clientId, o.orderId, o.permId), o.permId):
                if w.trades.get(key) is trade:
                    del w.trades[key]
            if w.permId2Trade.get(o.permId) is trade:
                del w.permId2Trade[o.permId]
            for fill in trade.fills:
                if w.fills.get(fill.execution.execId) is fill:
                    del w.fills[fill.execution.execId]

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
        """reqExecutions: the day's executions. Those of orders the wrapper does not follow
        (forgotten ones, or from before this connection) leave its ``fills`` again: kept
        there, each reconcile would add the day's executions back for good."""
        fills = await self.ib.reqExecutionsAsync()
        w = self.ib.wrapper
        for fill in fills:
            ex = fill.execution
            if _trade_of(w, ex) is None and w.fills.get(ex.execId) is fill:
                del w.fills[ex.execId]
        return fills

    def open_trades(self) -> list[Trade]:
        return self.ib.openTrades()

    def trades(self) -> list[Trade]:
        return self.ib.trades()

    def positions(self) -> list[Position]:
        return self.ib.positions()


def _trade_of(w: Any, ex: Execution) -> Trade | None:
    """The Trade ib_insync's Wrapper.execDetails files an execution under: by permId, else by
    (clientId, orderId)."""
    trade = w.permId2Trade.get(ex.permId)
    if trade is None:
        trade = w.trades.get(w.orderKey(ex.clientId, ex.orderId, ex.permId))
    return trade


def _follow_unbound(w: Any, broker: IbBroker) -> None:
    """Install the wrapper's ``_Unbound`` hook once; a later IbBroker over the same IB takes
    the reports over."""
    hook = getattr(w.commissionReport, "__self__", None)
    if isinstance(hook, _Unbound):
        hook.broker = broker
    else:
        _Unbound(w, broker)


class _Unbound:
    """Catches what ib_insync 0.9.86 (and ib_async) drop silently: a live execution whose order
    the wrapper does not follow (Wrapper.execDetails stores the Fill but emits nothing without
    a Trade) and a commission report whose fill or Trade it does not know (Wrapper.
    commissionReport finds the fill by execId in ``fills``, its Trade by permId in
    ``permId2Trade``, and otherwise passes). Both Wrapper methods are wrapped on the instance:
    the decoder calls them through it, so this sees every message after the wrapper has."""

    def __init__(self, w: Any, broker: IbBroker) -> None:
        self.w, self.broker = w, broker
        self._exec_details, self._commission_report = w.execDetails, w.commissionReport
        w.execDetails, w.commissionReport = self.exec_details, self.commission_report

    def exec_details(self, req_id: int, contract: Contract, ex: Execution) -> None:
        w = self.w
        live = req_id not in w._futures  # a reqExecutions answer is not live (see there)
        self._exec_details(req_id, contract, ex)
        fill = w.fills.get(ex.execId)
        if live and fill is not None and _trade_of(w, ex) is None:
            del w.fills[ex.execId]  # nothing will look for it again: the report comes here
            self.broker.unbound_fill_event.emit(fill)

    def commission_report(self, report: CommissionReport) -> None:
        w = self.w
        self._commission_report(report)
        fill = w.fills.get(report.execId)
        if fill is None or w.permId2Trade.get(fill.execution.permId) is None:
            self.broker.unbound_commission_event.emit(report)


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
