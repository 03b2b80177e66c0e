"""``within``: await something with a deadline, the one way the bot does it.

Not ``asyncio.wait_for``: on Python 3.11 it swallows a cancellation that arrives as the awaited
thing completes (CPython gh-86296, fixed in 3.12): it returns the result and the cancelled task
runs on. A loop cancelled at shutdown then never ends, and the daemon outlives SIGTERM (seen:
the watchdog's loop, whose server-time request was answered just as shutdown cancelled it).
``asyncio.timeout`` delivers every cancellation.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

T = TypeVar("T")


async def within(awaitable: Awaitable[T], seconds: float) -> T:
    """``await awaitable``, or TimeoutError after ``seconds``; a cancellation of the caller is
    always delivered, whatever moment it picks."""
    async with asyncio.timeout(seconds):
        return await awaitable
