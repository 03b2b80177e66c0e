"""Historical-data governor: every ``reqHistoricalData`` waits its turn under IB's pacing rules.

IB's rules (https://interactivebrokers.github.io/tws-api/historical_limitations.html): at most
60 requests in any 10 minutes, no identical request within 15 seconds, at most 6 requests for
one contract, exchange and tick type within 2 seconds, at most 50 open at once; a breach is
answered with error 162 "Historical data request pacing violation" and an empty answer, which
ib_insync hands back as an empty list. The governor admits requests in FIFO order, each when
every rule allows it, so none is refused. IB counts a request when it arrives, which the client
cannot see but which is no later than the answer: once answered, a request counts from its
answer's time, so a burst delayed on its way (a busy network or event loop) cannot put more
than the limit into IB's window; should a 162 pacing violation come anyway (another
client of the same login, a restart inside IB's memory), the request is retried after a wait,
never taken as "no data". Time is injected: the rules are tested without sleeping.
"""

from __future__ import annotations

import asyncio
import bisect
import logging
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from bot.model.ib_errors import HMDS_ERROR

log = logging.getLogger(__name__)

T = TypeVar("T")

_PACING_TEXT = "pacing violation"


@dataclass(frozen=True, slots=True)
class HistoryLimits:
    window_requests: int = 60
    window_s: float = 600.0
    identical_s: float = 15.0
    same_contract_requests: int = 6
    same_contract_s: float = 2.0
    max_open: int = 50
    margin_s: float = 0.05  # keep clear of the exact boundary (clocks differ a little)
    retry_s: float = 15.0  # after a 162 pacing violation: its twin is then allowed
    retries: int = 4

    def scaled(self, factor: float) -> HistoryLimits:
        """The same rules on a clock ``factor`` times as fast (a benchmark's 10-minute window
        in 6 s at 0.01), to match a simulated gateway whose rules are scaled alike
        (``bot/gateway/pacing_rules.py`` ``PacingLimits.scaled``)."""
        return replace(
            self,
            window_s=self.window_s * factor,
            identical_s=self.identical_s * factor,
            same_contract_s=self.same_contract_s * factor,
            retry_s=self.retry_s * factor,
        )


@dataclass(frozen=True, slots=True)
class HistoryKey:
    """What IB compares: two requests with equal keys are identical."""

    con_id: int
    exchange: str
    what_to_show: str
    bar_size: str
    duration: str
    end: str  # as sent: "" (now) repeats whenever the rest does
    use_rth: bool

    @property
    def family(self) -> tuple[int, str, str]:
        """The 6-per-2-seconds rule's grouping: contract, exchange and tick type."""
        return (self.con_id, self.exchange, self.what_to_show)


class PacingViolationError(RuntimeError):
    """IB answered a historical request with 162 more times than the governor retries."""


class HistoryGovernor:
    """Admits historical requests under ``HistoryLimits`` (see module doc)."""

    def __init__(
        self,
        limits: HistoryLimits | None = None,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.limits = limits or HistoryLimits()
        self._clock = clock
        self._sleep = sleep
        # times for the 10-minute window: admission, then the answer's (see module doc)
        self._recent: deque[float] = deque()
        self._identical: dict[HistoryKey, float] = {}
        self._family: dict[tuple[int, str, str], deque[float]] = {}
        self._open = 0
        self._turn = asyncio.Lock()  # FIFO: asyncio.Lock wakes waiters in order
        self._closed = asyncio.Event()  # set whenever a request finishes
        self.waited = 0  # requests that had to wait (a figure for the status line)
        self.violations = 0  # 162 pacing violations seen despite the governor

    @property
    def open(self) -> int:
        return self._open

    def wait_for(self, key: HistoryKey, now: float) -> float:
        """Seconds until ``key`` may be sent under the time rules (0: now)."""
        lim = self.limits
        self._forget(now)
        waits = [0.0]
        if len(self._recent) >= lim.window_requests:
            waits.append(self._recent[-lim.window_requests] + lim.window_s - now)
        last = self._identical.get(key)
        if last is not None:
            waits.append(last + lim.identical_s - now)
        fam = self._family.get(key.family)
        if fam is not None and len(fam) >= lim.same_contract_requests:
            waits.append(fam[-lim.same_contract_requests] + lim.same_contract_s - now)
        wait = max(waits)
        return wait + lim.margin_s if wait > 0 else 0.0

    def eta(self, requests: int) -> float:
        """Seconds until ``requests`` more (distinct) requests can all have been sent: the
        least time IB's window rule (``window_requests`` per ``window_s``) allows, given the
        requests already sent."""
        lim = self.limits
        now = self._clock()
        self._forget(now)
        sent = list(self._recent)
        last = now
        for _ in range(requests):
            if len(sent) >= lim.window_requests:
                last = max(now, sent[-lim.window_requests] + lim.window_s)
            sent.append(last)
        return last - now

    def repeats(self, key: HistoryKey) -> bool:
        """Whether ``key`` would be an identical request (one sent within the last 15 s)."""
        last = self._identical.get(key)
        return last is not None and self._clock() - last < self.limits.identical_s

    async def request(
        self, key: HistoryKey, send: Callable[[], Awaitable[T]], violated: Callable[[], bool]
    ) -> T:
        """``send()`` when the rules allow; ``violated()`` says (after it returned) whether IB
        answered it with a 162 pacing violation, and then it is sent again after a wait."""
        for attempt in range(self.limits.retries + 1):
            admitted = await self._admit(key)
            try:
                result = await send()
            finally:
                self._open -= 1
                self._settle(key, admitted, self._clock())
                self._closed.set()
            if not violated():
                return result
            self.violations += 1
            wait = self.limits.retry_s
            log.warning("historical request %s hit IB's pacing (162); retrying in %.0f s "
                        "(attempt %d)", _describe(key), wait, attempt + 1)  # fmt: skip
            await self._sleep(wait)
        raise PacingViolationError(
            f"historical request {_describe(key)}: IB still answers 162 (pacing violation) "
            f"after {self.limits.retries} retries"
        )

    async def _admit(self, key: HistoryKey) -> float:
        async with self._turn:
            waited = False
            while True:
                while self._open >= self.limits.max_open:
                    waited = True
                    self._closed.clear()
                    await self._closed.wait()
                wait = self.wait_for(key, self._clock())
                if wait <= 0:
                    break
                waited = True
                await self._sleep(wait)
            self.waited += waited
            now = self._clock()
            self._record(key, now)
            return now

    def _record(self, key: HistoryKey, now: float) -> None:
        self._open += 1
        self._recent.append(now)
        self._identical[key] = now
        self._family.setdefault(key.family, deque()).append(now)

    def _settle(self, key: HistoryKey, admitted: float, answered: float) -> None:
        """Count an answered request from its answer's time instead of its admission's."""
        _move(self._recent, admitted, answered)
        fam = self._family.get(key.family)
        if fam is not None:
            _move(fam, admitted, answered)
        if key in self._identical:
            self._identical[key] = max(self._identical[key], answered)

    def _forget(self, now: float) -> None:
        lim = self.limits
        while self._recent and now - self._recent[0] >= lim.window_s:
            self._recent.popleft()
        for k in [k for k, t in self._identical.items() if now - t >= lim.identical_s]:
            del self._identical[k]
        for fam_key in list(self._family):
            fam = self._family[fam_key]
            while fam and now - fam[0] >= lim.same_contract_s:
                fam.popleft()
            if not fam:
                del self._family[fam_key]


def _move(times: deque[float], old: float, new: float) -> None:
    """Replace ``old`` (if not forgotten yet) by ``new``, keeping ``times`` sorted."""
    try:
        times.remove(old)
    except ValueError:
        return
    bisect.insort(times, new)


def is_pacing_violation(code: int, text: str) -> bool:
    """162 is also "no data" and "query cancelled": only its pacing text is a violation."""
    return code == HMDS_ERROR and _PACING_TEXT in text.lower()


def _describe(key: HistoryKey) -> str:
    end = key.end or "now"
    return f"conId {key.con_id} {key.what_to_show} {key.bar_size} {key.duration} to {end}"
