"""The market data side of the fake IB."""

from __future__ import annotations

from eventkit import Event
from ib_insync import BarData, BarDataList, Contract, RealTimeBar, RealTimeBarList, Ticker


class MarketDataSide:
    """Real-time bars, history (keepUpToDate too), market data and tick-by-tick, with the
    real list types; ``cancelled`` names each cancel (``rt:1``, ``hist:1``, ``mkt:1``...)."""

    def _setup_market_data(self, history: dict[int, list[BarData]] | None) -> None:
        self.history = history or {}
        self.rt: dict[int, RealTimeBarList] = {}
        self.tickers: dict[int, Ticker] = {}
        self.cancelled: list[str] = []
        self.hist_calls: list[tuple[int, str, str]] = []
        self.on_history: list[object] = []  # callbacks run while the request is in flight
        self.kutd: dict[int, BarDataList] = {}  # keepUpToDate lists by conId
        # keepUpToDate updates IB sends right after the history, before the caller resumes
        self.early_updates: list[BarData] = []
        self.tbt_types: dict[int, str] = {}  # reqTickByTickData types by conId
        self.hist_ends: list[str] = []  # endDateTime of each history request, as sent

    def reqRealTimeBars(
        self, contract: Contract, size: int, what: str, rth: bool
    ) -> RealTimeBarList:
        bars = RealTimeBarList()
        bars.contract = contract
        self.rt[contract.conId] = bars
        return bars

    def cancelRealTimeBars(self, bars: RealTimeBarList) -> None:
        self.cancelled.append(f"rt:{bars.contract.conId}")

    async def reqHistoricalDataAsync(self, contract: Contract, end: str, duration: str,
                                     size: str, what: str, rth: bool, formatDate: int = 1,
                                     keepUpToDate: bool = False,
                                     timeout: float = 60) -> BarDataList:  # fmt: skip
        self.hist_calls.append((contract.conId, duration, size))
        self.hist_ends.append(end)
        for cb in self.on_history:
            cb()  # type: ignore[operator]
        out = BarDataList()
        out.extend(self.history.get(contract.conId, []))
        if keepUpToDate:
            out.contract = contract
            self.kutd[contract.conId] = out
            for bar in self.early_updates:
                self.update(contract.conId, bar)
        return out

    def cancelHistoricalData(self, bars: BarDataList) -> None:
        self.cancelled.append(f"hist:{bars.contract.conId}")

    def update(self, con_id: int, bar: BarData) -> None:
        """ib_insync's historicalDataUpdate: replace the last bar, or append a newer one."""
        bars = self.kutd[con_id]
        if bar.date < bars[-1].date:
            return
        has_new = bar.date > bars[-1].date
        if has_new:
            bars.append(bar)
        elif bars[-1] != bar:
            bars[-1] = bar
        else:
            return
        bars.updateEvent.emit(bars, has_new)

    def reqMktData(self, contract: Contract, ticks: str, snap: bool, reg: bool) -> Ticker:
        t = Ticker(contract=contract)
        t.updateEvent = Event("updateEvent")
        self.tickers[contract.conId] = t
        return t

    def cancelMktData(self, contract: Contract) -> None:
        self.cancelled.append(f"mkt:{contract.conId}")

    def reqTickByTickData(self, contract: Contract, what: str) -> Ticker:
        t = self.reqMktData(contract, "", False, False)
        t.tickByTicks = []
        self.tbt_types[contract.conId] = what
        return t

    def cancelTickByTickData(self, contract: Contract, what: str) -> None:
        self.cancelled.append(f"tbt:{contract.conId}:{what}")

    def push(self, con_id: int, bar: RealTimeBar) -> None:
        bars = self.rt[con_id]
        bars.append(bar)
        bars.updateEvent.emit(bars, True)
