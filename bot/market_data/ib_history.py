"""A stream's reqHistoricalData (warm-up or backfill) through the pacing governor."""

from __future__ import annotations

from collections.abc import Awaitable
from datetime import timedelta

from bot.client.ib import IB, BarDataList, Contract
from bot.market_data.bar_builder import DAY_S
from bot.market_data.history_pacing import HistoryGovernor, HistoryKey, is_pacing_violation
from bot.market_data.ib_stream import IbStream
from bot.model.durations import covering_duration


class HistoryRequests:
    """History requests of the feed's streams: never an identical one within IB's window."""

    def __init__(self, ib: IB, governor: HistoryGovernor, timeout: float) -> None:
        self.ib = ib
        self.governor = governor
        self.timeout = timeout

    def backfill_duration(self, stream: IbStream, gap: timedelta, end: str) -> str:
        """Just the missing range; should that repeat a request sent within IB's 15 seconds
        (a reconnect within the same server second, the first answer lost with the socket), a
        bar (or day) more: never an identical request, and no 15 s wait. The extra bars are
        before the gap, skipped as handed on already."""
        size_s = stream.key.size_s
        while True:
            duration = covering_duration(gap, size_s)
            if not self.governor.repeats(_history_key(stream, end, str(duration))):
                return str(duration)
            gap += timedelta(seconds=DAY_S if duration.unit == "D" else size_s)

    async def request(
        self, stream: IbStream, end: str, duration: str, kutd: bool
    ) -> BarDataList | None:
        """One reqHistoricalData through the governor, sent again after a 162 pacing
        violation (which ib_insync answers with an empty list)."""
        k, contract = stream.key, stream.contract
        paced: list[bool] = []

        def on_error(req_id: int, code: int, text: str, c: Contract | None) -> None:
            if c is not None and c.conId == k.con_id and is_pacing_violation(code, text):
                paced.append(True)

        def send() -> Awaitable[BarDataList]:
            paced.clear()
            return self.ib.reqHistoricalDataAsync(
                contract, end, duration, k.bar_size, k.what_to_show, k.use_rth, formatDate=2,
                keepUpToDate=kutd, timeout=self.timeout,
            )  # fmt: skip

        key = _history_key(stream, end, duration)
        self.ib.errorEvent += on_error
        try:
            return await self.governor.request(key, send, lambda: bool(paced))
        finally:
            self.ib.errorEvent -= on_error


def _history_key(stream: IbStream, end: str, duration: str) -> HistoryKey:
    k = stream.key
    return HistoryKey(k.con_id, stream.contract.exchange, k.what_to_show, k.bar_size, duration,
                      end, k.use_rth)  # fmt: skip
