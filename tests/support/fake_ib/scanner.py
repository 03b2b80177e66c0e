"""The scanner side of the fake IB: answers scans from ``answers`` (or ``scan_error``)."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from eventkit import Event
from ib_insync import Contract, ContractDetails, ScanData, ScanDataList


def scan_data(*symbols: str) -> list[ScanData]:
    """A scan's rows, ranked in the order given (conIds from 100)."""
    return [
        ScanData(rank, ContractDetails(contract=Contract(secType="STK", symbol=s, currency="USD",
                                                         conId=100 + rank)), "", "", "", "")
        for rank, s in enumerate(symbols)
    ]  # fmt: skip


class ScannerSide:
    errorEvent: Event

    def _setup_scanner(self, answers: Sequence[str]) -> None:
        self.answers = list(answers)
        self.scan_error: tuple[int, str] | None = None  # answer scans with this error
        self.scan_hangs = False  # a scan that never answers (in a test's time)
        self.scan_requests: list[Any] = []
        self.scan_subscriptions: list[ScanDataList] = []
        self.cancelled_scans: list[ScanDataList] = []
        self._scan_id = 0

    async def reqScannerDataAsync(self, sub: Any) -> ScanDataList:
        self._scan_id += 1
        self.scan_requests.append(sub)
        data = ScanDataList()
        data.reqId = self._scan_id
        if self.scan_hangs:
            await asyncio.sleep(10)
        if self.scan_error is not None:
            self.errorEvent.emit(self._scan_id, *self.scan_error, None)
            return data
        data += scan_data(*self.answers)[: sub.numberOfRows]
        return data

    def reqScannerSubscription(self, sub: Any) -> ScanDataList:
        data = ScanDataList()
        self.scan_subscriptions.append(data)
        return data

    def cancelScannerSubscription(self, data: ScanDataList) -> None:
        self.cancelled_scans.append(data)
