"""Wait for a condition, never sleep-then-assert: a test passes however fast the machine is."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

POLL = 0.01  # seconds between looks


async def wait_until(cond: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """Let the event loop run until ``cond()`` holds; fail after ``timeout`` seconds."""
    deadline = _Deadline(timeout, what or repr(cond))
    while not cond():
        deadline.check()
        await asyncio.sleep(POLL)


async def wait_until_async(
    cond: Callable[[], Awaitable[object]], timeout: float = 10.0, what: str = ""
) -> None:
    """``wait_until`` for a condition that must itself be awaited (another process's answer)."""
    deadline = _Deadline(timeout, what or repr(cond))
    while not await cond():
        deadline.check()
        await asyncio.sleep(POLL)


def wait_until_sync(cond: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:
    """``wait_until`` for a test without an event loop (another thread does the work)."""
    deadline = _Deadline(timeout, what or repr(cond))
    while not cond():
        deadline.check()
        time.sleep(POLL)


class _Deadline:
    def __init__(self, timeout: float, what: str) -> None:
        self.at, self.timeout, self.what = time.monotonic() + timeout, timeout, what

    def check(self) -> None:
        if time.monotonic() > self.at:
            raise AssertionError(f"timed out after {self.timeout:g} s waiting for {self.what}")
