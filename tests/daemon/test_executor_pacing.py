"""PacingGovernor: immediate under the limit, delayed in order above it, never dropped."""

from __future__ import annotations

import asyncio
from functools import partial

import pytest

from bot.orders.message_rate import PacingGovernor


def test_under_the_limit_runs_synchronously() -> None:
    now = [0.0]
    p = PacingGovernor(rate=40, burst=10, clock=lambda: now[0])
    ran: list[int] = []
    for i in range(10):
        assert p.send(1, partial(ran.append, i)) is True
    assert ran == list(range(10)) and p.pending == 0 and p.delayed == 0
    now[0] = 0.1  # 4 tokens back
    for i in range(4):
        assert p.send(1, partial(ran.append, i)) is True
    assert len(ran) == 14


async def test_above_the_limit_waits_in_fifo_order() -> None:
    p = PacingGovernor(rate=100, burst=2)  # real clock: one token per 10 ms
    ran: list[int] = []
    for i in range(6):
        p.send(1, partial(ran.append, i))
    assert ran == [0, 1] and p.pending == 4
    p.send(1, lambda: ran.append(99))  # queued behind the others, not ahead
    while p.pending:
        await asyncio.sleep(0.005)
    assert ran == [0, 1, 2, 3, 4, 5, 99]


async def test_real_clock_keeps_any_second_under_fifty_messages() -> None:
    p = PacingGovernor(rate=400, burst=10)  # fast, to keep the test short: 10 + 400 T
    stamps: list[float] = []
    loop = asyncio.get_running_loop()
    for _ in range(60):
        p.send(1, lambda: stamps.append(loop.time()))
    while p.pending:
        await asyncio.sleep(0.01)
    assert len(stamps) == 60
    window = 0.05  # at most 10 + 400 * 0.05 = 30 in any 50 ms
    for i, t in enumerate(stamps):
        assert sum(1 for s in stamps[i:] if s - t < window) <= 30 + 1


def test_queueing_needs_a_loop_and_settings_are_checked() -> None:
    p = PacingGovernor(rate=1, burst=1, clock=lambda: 0.0)
    ran: list[int] = []
    p.send(1, lambda: ran.append(1))
    with pytest.raises(RuntimeError):
        p.send(1, lambda: ran.append(2))
    assert p.pending == 0
    with pytest.raises(ValueError):
        PacingGovernor(rate=0)


async def test_flush_now_sends_everything_queued() -> None:
    p = PacingGovernor(rate=1, burst=1, clock=lambda: 0.0)
    ran: list[int] = []
    for i in range(4):
        p.send(1, partial(ran.append, i))
    p.flush_now()
    assert ran == [0, 1, 2, 3] and p.pending == 0


async def test_a_failing_send_does_not_wedge_the_queue() -> None:
    p = PacingGovernor(rate=200, burst=1)
    ran: list[int] = []

    def boom() -> None:
        raise RuntimeError("socket gone")

    p.send(1, lambda: ran.append(0))
    p.send(1, boom)
    p.send(1, lambda: ran.append(2))
    while p.pending:
        await asyncio.sleep(0.005)
    assert ran == [0, 2]
