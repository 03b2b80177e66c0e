"""Pacing governor: keeps what the executor sends under IB's message rate, in order.

IB disconnects a client that sends more than 50 messages a second. A token bucket of
``rate`` tokens per second holding at most ``burst`` tokens lets through at most
``burst + rate * T`` messages in any window of T seconds, so rate 40 + burst 10 stays under
50 in every second. Sends that find enough tokens and nobody queued run at once (no sleep,
no task switch on the hot path); the others wait in a FIFO drained by a loop timer, so
messages are delayed, never dropped, and never overtake each other.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections import deque
from collections.abc import Callable

log = logging.getLogger(__name__)


class PacingGovernor:
    """Token bucket in front of ``ib.placeOrder`` / ``ib.cancelOrder`` calls."""

    def __init__(
        self,
        rate: float = 40.0,
        burst: int = 10,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError(f"pacing needs rate > 0 and burst >= 1, got {rate}, {burst}")
        self.rate = rate
        self.burst = float(burst)
        self._clock = clock
        self._tokens = float(burst)
        self._stamp = clock()
        self._queue: deque[tuple[float, Callable[[], object]]] = deque()
        self._timer: asyncio.TimerHandle | None = None
        self.delayed = 0  # sends that had to wait: a figure for the status line

    @classmethod
    def unlimited(cls) -> PacingGovernor:
        """No message rate (a backtest's): every send goes at once."""
        return cls(rate=1e12, burst=1 << 30)

    @property
    def pending(self) -> int:
        return len(self._queue)

    def send(self, cost: int, fn: Callable[[], object]) -> bool:
        """Run ``fn`` (which sends ``cost`` messages) now if allowed, else queue it.

        Returns True when ``fn`` ran synchronously. A cost above ``burst`` is clamped to it
        (a bracket's three legs must go back to back).
        """
        need = min(float(cost), self.burst)
        if not self._queue:
            self._refill()
            if self._tokens >= need:
                self._tokens -= need
                fn()
                return True
        asyncio.get_running_loop()  # queueing needs the loop's timer: fail before enqueueing
        self._queue.append((need, fn))
        self.delayed += 1
        self._schedule()
        return False

    def flush_now(self) -> None:
        """Run everything queued, ignoring the rate (shutdown: better late than lost)."""
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        while self._queue:
            _, fn = self._queue.popleft()
            fn()

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.rate)
        self._stamp = now

    def _schedule(self) -> None:
        if self._timer is not None or not self._queue:
            return
        need = self._queue[0][0]
        wait = max(0.0, (need - self._tokens) / self.rate) + 1e-6  # float rounding
        self._timer = asyncio.get_running_loop().call_later(wait, self._drain)

    def _drain(self) -> None:
        self._timer = None
        self._refill()
        while self._queue and self._tokens >= self._queue[0][0]:
            need, fn = self._queue.popleft()
            self._tokens -= need
            try:
                fn()
            except Exception:  # one failed send must not wedge the queue behind it
                log.exception("queued order send failed")
        self._schedule()
