"""The historical-data governor on a fake clock: each of IB's rules makes a request wait
exactly as long as needed, in FIFO order; a 162 pacing violation is retried, never taken as
"no data"; against the simulated gateway's own pacer, a burst of warm-ups gets no 162."""

from __future__ import annotations

import asyncio

import pytest

from bot.gateway.pacing_rules import HistKey, HistoricalPacer, PacingLimits
from bot.market_data.history_pacing import (
    HistoryGovernor,
    HistoryKey,
    HistoryLimits,
    PacingViolationError,
    is_pacing_violation,
)


class FakeTime:
    def __init__(self) -> None:
        self.t = 1000.0
        self.slept: list[float] = []

    def clock(self) -> float:
        return self.t

    async def sleep(self, s: float) -> None:
        self.slept.append(s)
        self.t += s


def key(con_id: int = 1, duration: str = "1 D", end: str = "", what: str = "TRADES") -> HistoryKey:
    return HistoryKey(con_id, "SMART", what, "1 min", duration, end, True)


def governor(ft: FakeTime, **kw: float) -> HistoryGovernor:
    return HistoryGovernor(HistoryLimits(margin_s=0, **kw), clock=ft.clock, sleep=ft.sleep)  # type: ignore[arg-type]


async def ok() -> str:
    return "bars"


def never() -> bool:
    return False


async def test_an_identical_request_waits_15_seconds() -> None:
    ft = FakeTime()
    gov = governor(ft)
    await gov.request(key(), ok, never)
    ft.t += 4
    await gov.request(key(), ok, never)
    assert ft.slept == [11.0] and gov.waited == 1
    await gov.request(key(duration="2 D"), ok, never)  # not identical: no wait
    assert ft.slept == [11.0]


async def test_repeats_says_whether_a_request_would_be_identical() -> None:
    ft = FakeTime()
    gov = governor(ft)
    assert not gov.repeats(key())
    await gov.request(key(), ok, never)
    ft.t += 14.9
    assert gov.repeats(key()) and not gov.repeats(key(duration="2 D"))
    ft.t += 0.1
    assert not gov.repeats(key())


async def test_six_per_contract_in_two_seconds_then_the_seventh_waits() -> None:
    ft = FakeTime()
    gov = governor(ft)
    for i in range(6):
        await gov.request(key(duration=f"{i + 1} D"), ok, never)
    assert ft.slept == []
    await gov.request(key(duration="7 D"), ok, never)
    assert ft.slept == [2.0]
    await gov.request(key(con_id=2), ok, never)  # another contract: its own count
    assert ft.slept == [2.0]


async def test_sixty_in_ten_minutes_then_the_next_waits_for_the_window() -> None:
    ft = FakeTime()
    gov = governor(ft, same_contract_requests=1000)
    for i in range(60):
        await gov.request(key(duration=f"{i + 1} D"), ok, never)
        ft.t += 1
    await gov.request(key(duration="61 D"), ok, never)
    assert ft.slept == [600.0 - 60]


async def test_at_most_max_open_at_once_and_fifo() -> None:
    ft = FakeTime()
    gov = governor(ft, max_open=2)
    release = asyncio.Event()
    order: list[int] = []

    def slow(i: int):  # type: ignore[no-untyped-def]
        async def send() -> int:
            order.append(i)
            await release.wait()
            return i

        return send

    tasks = [asyncio.create_task(gov.request(key(duration=f"{i + 1} D"), slow(i), never))
             for i in range(4)]  # fmt: skip
    for _ in range(5):
        await asyncio.sleep(0)
    assert order == [0, 1] and gov.open == 2
    release.set()
    assert await asyncio.gather(*tasks) == [0, 1, 2, 3]
    assert order == [0, 1, 2, 3] and gov.open == 0


async def test_a_pacing_violation_is_retried_after_a_wait() -> None:
    ft = FakeTime()
    gov = governor(ft)
    answers = iter([True, False])
    assert await gov.request(key(), ok, lambda: next(answers)) == "bars"
    assert gov.violations == 1 and 15.0 in ft.slept


async def test_endless_violations_raise_instead_of_an_empty_warm_up() -> None:
    ft = FakeTime()
    gov = governor(ft, retries=2)
    with pytest.raises(PacingViolationError, match="still answers 162"):
        await gov.request(key(), ok, lambda: True)


def test_only_the_pacing_text_of_162_is_a_violation() -> None:
    text = "Historical Market Data Service error message:Historical data request pacing violation"
    assert is_pacing_violation(162, text)
    assert not is_pacing_violation(162, "Historical Market Data Service error message:HMDS query "
                                   "returned no data")  # fmt: skip
    assert not is_pacing_violation(200, text)


async def test_a_burst_of_backfills_never_breaks_the_gateways_rules() -> None:
    """The governor's admissions replayed through the simulated gateway's pacer: no refusal."""
    ft = FakeTime()
    gov = governor(ft)
    pacer = HistoricalPacer(PacingLimits())
    refused: list[str] = []

    def sender(k: HistoryKey):  # type: ignore[no-untyped-def]
        async def send() -> None:
            hk = HistKey(k.con_id, k.exchange, k.what_to_show, k.bar_size, k.duration, k.end,
                         k.use_rth)  # fmt: skip
            v = pacer.check(1, hk, ft.t, None)
            if v is not None:
                refused.append(v.rule)

        return send

    keys = [key(con_id=c, duration=f"{d} S") for c in range(1, 4) for d in (60, 60, 120)] * 10
    for k in keys:
        await gov.request(k, sender(k), never)
    assert refused == []


async def test_an_answered_request_counts_from_its_answer() -> None:
    # IB counts a request when it arrives, at the latest when it answers: a slow answer
    # moves the request's slot in the 10-minute window to the answer's time.
    ft = FakeTime()
    gov = governor(ft, window_requests=2, same_contract_requests=1000)

    async def slow() -> str:
        ft.t += 30
        return "bars"

    await gov.request(key(duration="1 D"), slow, never)  # admitted at 1000, answered at 1030
    await gov.request(key(duration="2 D"), ok, never)  # at 1030
    await gov.request(key(duration="3 D"), ok, never)
    assert ft.slept == [600.0]  # 1030 + 600, not 1000 + 600
