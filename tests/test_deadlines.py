"""bot.runtime.deadlines.within: the deadline, and a cancellation that arrives just as the awaited
thing completes still cancels (asyncio.wait_for on Python 3.11 returns the result instead)."""

from __future__ import annotations

import asyncio

import pytest

from bot.runtime.deadlines import within


async def test_the_answer_within_the_deadline() -> None:
    assert await within(asyncio.sleep(0.01, result="ok"), 1.0) == "ok"


async def test_no_answer_in_time_is_a_timeout() -> None:
    with pytest.raises(TimeoutError):
        await within(asyncio.sleep(5), 0.01)


async def test_a_cancel_as_the_answer_arrives_ends_the_loop() -> None:
    """A poller like the daemon's watchdog: cancelled in the same loop turn that answers its
    request. It must end, not poll on for ever."""
    answers: list[asyncio.Future[int]] = []
    polls = 0

    async def poll_forever() -> None:
        nonlocal polls
        while True:
            fut = asyncio.get_running_loop().create_future()
            answers.append(fut)
            await within(fut, 10)
            polls += 1

    task = asyncio.create_task(poll_forever())
    while not answers:
        await asyncio.sleep(0)
    answers[-1].set_result(1)  # the answer and the shutdown's cancel in one turn
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=1.0)
    assert task in done and task.cancelled(), f"the loop ran on after its cancel ({polls} polls)"
