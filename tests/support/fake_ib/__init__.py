"""One stand-in for ib_insync's ``IB``, for unit tests of what sits on it (executor, feed,
daily scans, IB's P&L): each side of the facade in a module of its own, one connection."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from eventkit import Event
from ib_insync import BarData
from ib_insync.wrapper import Wrapper

from support.fake_ib.market_data import MarketDataSide
from support.fake_ib.orders import FakeClient, OrderSide
from support.fake_ib.pnl import PnlSide
from support.fake_ib.scanner import ScannerSide, scan_data
from support.times import T0

__all__ = ["FakeClient", "FakeIB", "scan_data"]


class FakeIB(OrderSide, MarketDataSide, ScannerSide, PnlSide):
    """``now``: IB's current time; ``history``: the bars reqHistoricalData answers, by conId;
    ``answers``: the symbols a scan ranks."""

    def __init__(
        self,
        now: datetime = T0,
        history: dict[int, list[BarData]] | None = None,
        *,
        client_id: int = 1,
        account: str = "DU1234567",
        answers: Sequence[str] = (),
    ) -> None:
        self.client = FakeClient()
        self.now = now
        self.connected = True
        self.errorEvent = Event("errorEvent")  # (reqId, code, text, contract)
        # the real one: IbBroker prunes and hooks into it, bot.market_data.tick_times wraps it
        self.wrapper = Wrapper(self)
        self._setup_orders(client_id, account)
        self._setup_market_data(history)
        self._setup_scanner(answers)
        self._setup_pnl()

    def isConnected(self) -> bool:
        return self.connected

    async def reqCurrentTimeAsync(self) -> datetime:
        return self.now
