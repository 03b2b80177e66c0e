"""IB's pacing rules, as the simulated gateway enforces them on its clients.

Historical data (https://interactivebrokers.github.io/tws-api/historical_limitations.html):
no identical request within 15 seconds, at most 6 requests for the same contract, exchange and
tick type within 2 seconds, at most 60 requests in any 10 minutes (error 162), and at most 50
requests open at once (error 322). Messages: more than 50 a second from one client gets error
100. Time is injected (monotonic seconds), so the rules are tested without sleeping.

Windows are half-open, (now - span, now]: a request exactly 15 s after its twin, or 10
minutes after the first of 60, is allowed. Only accepted requests count; a refused one does
not use up a slot. Limits are counted per client id (``per_client=False``: gateway-wide).
"""

from __future__ import annotations

from collections import defaultdict, deque
from dataclasses import dataclass, field, replace
from typing import NamedTuple

from bot.gateway import ib_messages as M


@dataclass(frozen=True, slots=True)
class PacingLimits:
    enabled: bool = True
    window_requests: int = 60
    window_seconds: float = 600.0
    identical_seconds: float = 15.0
    same_contract_requests: int = 6
    same_contract_seconds: float = 2.0
    max_open: int = 50
    per_client: bool = True

    def scaled(self, factor: float) -> PacingLimits:
        """The same rules on a clock ``factor`` times as fast (benchmarks; the bot's governor
        scales alike: ``bot/market_data/history_pacing.py`` ``HistoryLimits.scaled``)."""
        return replace(
            self,
            window_seconds=self.window_seconds * factor,
            identical_seconds=self.identical_seconds * factor,
            same_contract_seconds=self.same_contract_seconds * factor,
        )


class HistKey(NamedTuple):
    """What makes two historical requests identical (a plain 7-tuple works as well)."""

    con_id: int
    exchange: str
    what_to_show: str
    bar_size: str
    duration: str
    end: str  # as sent: "" means now, so two "now" requests are identical
    use_rth: bool


@dataclass(frozen=True, slots=True)
class PacingViolation:
    """The error to answer the request with; ``rule`` says which limit it hit (for logs)."""

    code: int
    text: str
    rule: str


@dataclass(slots=True)
class _Books:
    """One client's (or the gateway's) recent accepted requests."""

    recent: deque[float] = field(default_factory=deque)
    identical: dict[tuple[object, ...], float] = field(default_factory=dict)
    per_contract: defaultdict[tuple[object, ...], deque[float]] = field(
        default_factory=lambda: defaultdict(deque)
    )
    open: set[int] = field(default_factory=set)


def _prune(times: deque[float], now: float, span: float) -> None:
    while times and now - times[0] >= span:
        times.popleft()


class HistoricalPacer:
    """Decides whether a historical data request may run; remembers the ones that did."""

    def __init__(self, limits: PacingLimits | None = None) -> None:
        self.limits = limits or PacingLimits()
        self._books: dict[int, _Books] = {}

    def _for(self, client_id: int) -> _Books:
        scope = client_id if self.limits.per_client else 0
        return self._books.setdefault(scope, _Books())

    def check(
        self,
        client_id: int,
        key: tuple[int, str, str, str, str, str, bool],
        now: float,
        req_id: int | None = None,
    ) -> PacingViolation | None:
        """None and the request is counted (and open under ``req_id`` if given), or the
        violation to send instead."""
        lim, books = self.limits, self._for(client_id)
        if lim.enabled:
            violation = self._violation(books, tuple(key), now)
            if violation is not None:
                return violation
        self._record(books, tuple(key), now)
        if req_id is not None:
            books.open.add(req_id)
        return None

    def _violation(
        self, books: _Books, key: tuple[object, ...], now: float
    ) -> PacingViolation | None:
        lim = self.limits
        if len(books.open) >= lim.max_open:
            text = M.TEXT_MAX_OPEN_HISTORICAL.format(limit=lim.max_open)
            return PacingViolation(M.PROCESSING_ERROR, text, "max_open")
        last = books.identical.get(key)
        if last is not None and now - last < lim.identical_seconds:
            return PacingViolation(M.HMDS_ERROR, M.TEXT_PACING, "identical")
        same = books.per_contract.get(key[:3])
        if same is not None:
            _prune(same, now, lim.same_contract_seconds)
            if len(same) >= lim.same_contract_requests:
                return PacingViolation(M.HMDS_ERROR, M.TEXT_PACING, "same_contract")
        _prune(books.recent, now, lim.window_seconds)
        if len(books.recent) >= lim.window_requests:
            return PacingViolation(M.HMDS_ERROR, M.TEXT_PACING, "window")
        return None

    def _record(self, books: _Books, key: tuple[object, ...], now: float) -> None:
        lim = self.limits
        books.recent.append(now)
        _prune(books.recent, now, lim.window_seconds)
        books.per_contract[key[:3]].append(now)
        books.identical[key] = now
        # Bounded by the 10-minute window: drop what no rule can still see.
        horizon = max(lim.identical_seconds, lim.same_contract_seconds)
        for k, t in list(books.identical.items()):
            if now - t >= horizon:
                del books.identical[k]
        for k, times in list(books.per_contract.items()):
            _prune(times, now, lim.same_contract_seconds)
            if not times:
                del books.per_contract[k]

    def opened(self, client_id: int, req_id: int) -> None:
        """Count ``req_id`` as open (when check() was called without it)."""
        self._for(client_id).open.add(req_id)

    def closed(self, client_id: int, req_id: int) -> None:
        """The request was answered, failed or cancelled: it no longer counts as open."""
        self._for(client_id).open.discard(req_id)

    def drop_client(self, client_id: int) -> None:
        """The client disconnected: its open requests end. Its history stays, as at IB,
        where reconnecting does not reset the pacing clock."""
        if self.limits.per_client:
            self._for(client_id).open.clear()


class MessageRate:
    """Error 100 when a client sends more than ``limit`` messages in a second.

    Sliding one-second window per client. A burst is reported once, on the message that
    crosses the limit (rec = messages in the window then); the next report needs the rate
    to fall back under the limit first. IB may disconnect a client that keeps it up; what to
    do with the message is the caller's choice.
    """

    def __init__(self, limit: int = 50, window: float = 1.0, enabled: bool = True) -> None:
        self.limit = limit
        self.window = window
        self.enabled = enabled
        self._times: defaultdict[int, deque[float]] = defaultdict(deque)
        self._flagged: set[int] = set()
        self._count: defaultdict[int, int] = defaultdict(int)

    def on_message(self, client_id: int, now: float) -> PacingViolation | None:
        if not self.enabled:
            return None
        times = self._times[client_id]
        times.append(now)
        _prune(times, now, self.window)
        if len(times) <= self.limit:
            self._flagged.discard(client_id)
            return None
        if client_id in self._flagged:
            return None
        self._flagged.add(client_id)
        self._count[client_id] += 1
        text = M.max_rate_text(self.limit, len(times), self._count[client_id])
        return PacingViolation(M.MAX_RATE, text, "message_rate")

    def drop_client(self, client_id: int) -> None:
        self._times.pop(client_id, None)
        self._flagged.discard(client_id)
        self._count.pop(client_id, None)
