"""The connection supervisor: one explicit state machine for the link to IB and what each
fault does to trading.

    CONNECTING ──connected──▶ CONNECTED ──1100──▶ IB_LOST ──1101 / 1102──▶ CONNECTED
                                  │                  │
                                  └──socket lost──▶ RECONNECTING ──resumed──▶ CONNECTED
                                                     │
                                                     └──fatal (a contract qualifies
                                                        differently, no client id free)──▶ STOPPED

* Socket loss or 1100 (IB's servers unreachable) pause new entries: the risk manager's
  REDUCING hold "connectivity" of the account (exits and cancels still go). Connection holds
  are transient: journalled, but a restart does not restore them (it sees the link itself).
* 1101 (connectivity back, data lost): IB dropped every subscription: resubscribe every bar and
  tick stream and backfill each one's gap, then resume entries.
* 1102 (connectivity back, data kept): the subscriptions live on but the outage's bars never
  came: backfill each stream's gap (which also proves it delivers), then resume entries.
* Data farms (2103/2105 broken, 2104/2106 OK, 2157/2158 the security-definition farm) are
  tracked per farm; a market-data farm that comes back after being broken gets its streams
  resubscribed and backfilled (they were silent, and the gap's bars are gone).
* The socket gone: reconnect with capped exponential backoff and seeded jitter; a fatal error
  stops the daemon with a message instead of retrying for ever.
* A daily maintenance window (IB Gateway's restart) pauses entries and expects the disconnect:
  it is logged at INFO, not as an alarm.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from datetime import time as dtime
from typing import Any, Protocol

from bot.model.ib_errors import (
    CLIENT_ID_IN_USE,
    CONNECTIVITY_LOST,
    CONNECTIVITY_RESTORED_DATA_KEPT,
    CONNECTIVITY_RESTORED_DATA_LOST,
    FARM_NOTICES,
)
from bot.risk.states import EntryPauses

log = logging.getLogger(__name__)

CONNECTIVITY, MAINTENANCE = "connectivity", "maintenance"


class FarmStates:
    """The data farms' states from IB's notices: farm name -> "ok" | "broken" | "inactive".

    The daemon listens with one before it connects, since IB reports every farm as it accepts
    the connection; the supervisor takes it over once start-up is done."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}

    def note(self, code: int, text: str) -> tuple[str, str | None, str] | None:
        """Record a farm notice: (farm, its state before, now); None if ``code`` is not one."""
        if code not in FARM_NOTICES:
            return None
        kind, state = FARM_NOTICES[code]
        name = f"{kind}:{text.rsplit(':', 1)[-1].strip()}" if ":" in text else kind
        was = self.states.get(name)
        self.states[name] = state
        return name, was, state

    def on_error(self, req_id: int, code: int, text: str, contract: Any = None) -> None:
        self.note(code, text)


class ConnState(enum.Enum):
    CONNECTING = "connecting"
    CONNECTED = "connected"
    IB_LOST = "IB unreachable (1100)"
    RECONNECTING = "reconnecting"
    STOPPED = "stopped"


# The states as operators see them (metric labels, /health): RECONNECTING inside the daily
# maintenance window is the expected disconnect, told apart from an alarm.
_NAMES = {ConnState.CONNECTING: "connecting", ConnState.CONNECTED: "connected",
          ConnState.IB_LOST: "connectivity_lost", ConnState.RECONNECTING: "reconnecting",
          ConnState.STOPPED: "stopped"}  # fmt: skip
STATE_NAMES = (*_NAMES.values(), "maintenance")


@dataclass(frozen=True, slots=True)
class ConnStatus:
    """A read of the supervisor: its state, since when (server time) and why, the
    reconnects so far and each data farm's state ("ok" | "broken" | "inactive")."""

    state: ConnState
    since: datetime
    why: str
    in_window: bool
    reconnects: int
    farms: dict[str, str]

    @property
    def name(self) -> str:
        """One of ``STATE_NAMES``."""
        if self.state is ConnState.RECONNECTING and self.in_window:
            return "maintenance"
        return _NAMES[self.state]

    @property
    def ok(self) -> bool:
        return self.state is ConnState.CONNECTED

    def describe(self) -> str:
        """e.g. ``connectivity lost since 2024-01-02 15:31:05 UTC: 1100 Connectivity ...``"""
        since = self.since.astimezone(UTC)
        return f"{self.name.replace('_', ' ')} since {since:%Y-%m-%d %H:%M:%S} UTC: {self.why}"


class FatalConnectionError(RuntimeError):
    """Retrying cannot help: stop with this message."""


@dataclass(frozen=True, slots=True)
class Backoff:
    """Capped exponential backoff with jitter: ``initial * 2**n``, at most ``cap``, each
    delay moved by up to ``jitter`` of itself (so many clients do not reconnect in step)."""

    initial: float = 0.5
    cap: float = 30.0
    jitter: float = 0.2

    def delays(self, seed: int | None = None) -> Callable[[int], float]:
        rng = random.Random(seed)

        def delay(attempt: int) -> float:
            base = min(self.cap, self.initial * 2 ** min(attempt, 30))
            return max(0.0, base * (1 + self.jitter * rng.uniform(-1, 1)))

        return delay


@dataclass(frozen=True, slots=True)
class MaintenanceWindow:
    """A daily window (exchange-style local times; it may run past midnight)."""

    start: dtime
    end: dtime
    tz: tzinfo

    def contains(self, t: datetime) -> bool:
        local = t.astimezone(self.tz).time()
        if self.start <= self.end:
            return self.start <= local < self.end
        return local >= self.start or local < self.end


class Hooks(Protocol):
    """What the supervisor asks of the daemon."""

    async def resume(self) -> None:
        """Connect again, re-qualify and reconcile (raises ``FatalConnectionError`` when
        retrying cannot help)."""

    async def resubscribe(self) -> None:
        """After ``resume``: subscribe every stream again and backfill the gaps."""

    async def restart_streams(self, ticks: bool) -> None:
        """Resubscribe every bar stream (and ticks) and backfill the gaps."""

    def stop(self, reason: str) -> None: ...

    def is_connected(self) -> bool: ...

    def drop_connection(self) -> None:
        """Forget the connection's subscriptions and close a half-made one (without it
        counting as a new socket loss)."""


class Supervisor:
    """The state machine of the module doc; ``on_error`` and ``on_disconnect`` are wired to
    ib_insync's ``errorEvent`` and ``disconnectedEvent``."""

    def __init__(
        self,
        hooks: Hooks,
        risk: EntryPauses,
        *,
        backoff: Backoff | None = None,
        seed: int | None = None,
        maintenance: MaintenanceWindow | None = None,
        now: Callable[[], datetime],
        journal_event: Callable[..., None] | None = None,
        farms: FarmStates | None = None,
    ) -> None:
        """``farms``: what was heard of the data farms before (at connect)."""
        self.hooks = hooks
        self.risk = risk
        self.backoff = backoff or Backoff()
        self._delay = self.backoff.delays(seed)
        self.maintenance = maintenance
        self.now = now
        self.journal_event = journal_event
        self.state = ConnState.CONNECTING
        self.since, self.why = now(), "starting"  # when and why the state was entered
        self._farms = farms or FarmStates()
        self.farms = self._farms.states  # farm name -> "ok" | "broken" | "inactive"
        self.reconnects = 0
        self._task: asyncio.Task[None] | None = None
        self._resubscribing = False  # the reconnect loop is in hooks.resubscribe()
        self._tasks: set[asyncio.Task[None]] = set()
        self._in_window = False

    # ---- state ------------------------------------------------------------------------------

    def connected(self) -> None:
        """Start-up is done: the daemon is live."""
        self._to(ConnState.CONNECTED, "live")

    @property
    def data_expected(self) -> bool:
        """Whether every stream should be delivering (the staleness watchdog's condition)."""
        return self.state is ConnState.CONNECTED and all(
            state != "broken" for name, state in self.farms.items() if _is_market_farm(name)
        )

    def status(self) -> ConnStatus:
        """What metrics, /health, the status page and notifications show."""
        in_window = self._in_window or self._window_now()
        return ConnStatus(self.state, self.since, self.why, in_window, self.reconnects,
                          dict(self.farms))  # fmt: skip

    def _to(self, state: ConnState, why: str) -> None:
        if state is self.state:
            return
        old, self.state = self.state, state
        self.since, self.why = self.now(), why
        quiet = self._in_window or old is ConnState.CONNECTING
        log.log(logging.INFO if quiet or state is ConnState.CONNECTED else logging.WARNING,
                "connection: %s -> %s (%s)", old.value, state.value, why)  # fmt: skip
        self._journal("connection", f"{old.value} -> {state.value}: {why}")

    def _pause(self, key: str, detail: str, *, expected: bool = False) -> None:
        self.risk.pause_entries(key, f"{key}: {detail}", now=self.now(), transient=True,
                                expected=expected)  # fmt: skip

    def _resume(self, key: str) -> None:
        self.risk.clear(key, now=self.now())

    def _journal(self, kind: str, message: str) -> None:
        if self.journal_event is not None:
            self.journal_event(kind, message, self.now())

    # ---- events from ib_insync ---------------------------------------------------------------

    def on_error(self, req_id: int, code: int, text: str, contract: Any = None) -> None:
        if self.state in (ConnState.STOPPED, ConnState.CONNECTING):
            return
        if code == CONNECTIVITY_LOST:
            self._pause(CONNECTIVITY, "IB's servers unreachable (1100)")
            self._to(ConnState.IB_LOST, f"1100 {text}")
        elif code in (CONNECTIVITY_RESTORED_DATA_LOST, CONNECTIVITY_RESTORED_DATA_KEPT):
            self._spawn(self._restored(code, text))
        elif code in FARM_NOTICES:
            self._farm(code, text)

    def on_disconnect(self) -> None:
        if self.state in (ConnState.STOPPED, ConnState.CONNECTING, ConnState.RECONNECTING):
            return
        expected = self._in_window or self._window_now()
        self._pause(CONNECTIVITY, "the socket to IB is gone", expected=expected)
        self.hooks.drop_connection()
        why = "disconnected during the maintenance window (expected)" if expected else (
            "socket lost")  # fmt: skip
        self._to(ConnState.RECONNECTING, why)
        if self._task is not None and self._resubscribing:
            # Its backfills may wait minutes for IB's history pacing before they even send,
            # and see the socket gone only then: reconnect now (the next loop resubscribes).
            self._task.cancel()
            self._task, self._resubscribing = None, False
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._reconnect_loop(), name="reconnect")

    async def _restored(self, code: int, text: str) -> None:
        lost = code == CONNECTIVITY_RESTORED_DATA_LOST
        what = "data lost: resubscribing" if lost else "data kept: backfilling the gap"
        log.warning("IB connectivity restored (%d), %s", code, what)
        self._to(ConnState.CONNECTED, f"{code} {text}")
        # Entries resume first: the backfill's freshest bar is live and may be acted on.
        self._resume(CONNECTIVITY)
        await self.hooks.restart_streams(lost)

    def _farm(self, code: int, text: str) -> None:
        noted = self._farms.note(code, text)
        assert noted is not None  # on_error routes only farm codes here
        name, was, state = noted
        if state == "broken":
            if was != "broken":
                log.warning("data farm %s broken (%d): %s", name, code, text)
                self._journal("farm", f"{name} broken ({code})")
            return
        if was == "broken":
            log.info("data farm %s OK again (%d)", name, code)
            self._journal("farm", f"{name} OK ({code})")
            if _is_market_farm(name):  # its streams were silent: resubscribe and backfill
                self._spawn(self.hooks.restart_streams(False))

    # ---- reconnecting ------------------------------------------------------------------------

    async def _reconnect_loop(self) -> None:
        attempt = 0
        while self.state is ConnState.RECONNECTING:
            delay = self._delay(attempt)
            attempt += 1
            await asyncio.sleep(delay)
            if self.state is not ConnState.RECONNECTING:
                return
            try:
                await self.hooks.resume()
            except FatalConnectionError as e:
                log.error("cannot resume trading: %s; stopping", e)
                self._to(ConnState.STOPPED, str(e))
                self.hooks.stop(f"error: {e}")
                return
            except Exception as e:
                level = logging.INFO if self._window_now() else logging.WARNING
                log.log(level, "reconnect attempt %d failed: %s; next in about %.1f s",
                        attempt, e or type(e).__name__, self._peek(attempt))  # fmt: skip
                self.hooks.drop_connection()
                continue
            if not self.hooks.is_connected():  # lost again while resuming
                self.hooks.drop_connection()
                continue
            self.reconnects += 1
            self._to(ConnState.CONNECTED, f"reconnected after {attempt} attempt(s)")
            self._resume(CONNECTIVITY)  # before the backfill: its freshest bar is live
            self._resubscribing = True
            try:
                await self.hooks.resubscribe()
            except Exception as e:
                log.warning("resubscribing after the reconnect failed: %s", e or type(e).__name__)
                if self.state is ConnState.CONNECTED:  # not a socket loss: start over
                    self._to(ConnState.RECONNECTING, "resubscribing failed")
                    self._pause(CONNECTIVITY, "resubscribing failed")
                    self.hooks.drop_connection()
            # Not in a finally: a loop cancelled by on_disconnect has handed the flag on.
            self._resubscribing = False
            if self.state is not ConnState.RECONNECTING:
                return
            # The socket went again meanwhile (on_disconnect left this loop to go on).
            attempt = 0

    def _peek(self, attempt: int) -> float:
        return min(self.backoff.cap, self.backoff.initial * 2 ** min(attempt, 30))

    # ---- the maintenance window --------------------------------------------------------------

    def _window_now(self) -> bool:
        return self.maintenance is not None and self.maintenance.contains(self.now())

    def tick(self, now: datetime) -> None:
        """Called with the server's time now and then: enter or leave the window."""
        if self.maintenance is None:
            return
        inside = self.maintenance.contains(now)
        if inside and not self._in_window:
            self._in_window = True
            self._pause(MAINTENANCE, "IB's daily maintenance window", expected=True)
            self._journal("maintenance", "window started: entries paused, disconnect expected")
        elif not inside and self._in_window:
            self._in_window = False
            self._resume(MAINTENANCE)
            self._journal("maintenance", "window over")

    # ---- tasks -------------------------------------------------------------------------------

    def _spawn(self, work: Awaitable[None]) -> None:
        async def run() -> None:
            try:
                await work
            except Exception as e:  # a socket loss mid-way: the reconnect takes over
                log.warning("resubscribing failed: %s", e or type(e).__name__)

        task = asyncio.create_task(run(), name="resubscribe")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self) -> None:
        self.state = ConnState.STOPPED
        for task in [self._task, *self._tasks]:
            if task is not None and not task.done():
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task


def _is_market_farm(name: str) -> bool:
    return name.startswith("market data")


async def connect_with_client_ids(
    ib: Any, connect: Callable[[int], Awaitable[None]], first: int, tries: int
) -> int:
    """``connect(client_id)`` with ``first``, then the next ids while IB answers 326 (client
    id in use); the id that connected. No id free: ``FatalConnectionError``."""
    codes: list[int] = []

    def seen(req_id: int, code: int, text: str, contract: Any = None) -> None:
        codes.append(code)

    for client_id in range(first, first + tries):
        codes.clear()
        ib.errorEvent += seen
        try:
            await connect(client_id)
            return client_id
        except (ConnectionError, OSError, TimeoutError):
            if CLIENT_ID_IN_USE not in codes:
                raise
            log.warning("client id %d is in use (326)%s", client_id,
                        "; trying the next" if client_id + 1 < first + tries else "")  # fmt: skip
            with contextlib.suppress(Exception):
                ib.disconnect()
        finally:
            ib.errorEvent -= seen
    last = first + tries - 1
    ids = f"{first}" if tries == 1 else f"{first}..{last}"
    raise FatalConnectionError(
        f"IB says client id {ids} {'is' if tries == 1 else 'are all'} in use (error 326): "
        "another program (or a daemon still running) holds it; set ib.client_id to a free one "
        "or raise ib.client_id_tries"
    )


def wall_estimate(last: Callable[[], datetime]) -> Callable[[], datetime]:
    """``last()`` (the newest server time seen) moved on by the wall time since it changed:
    the time while no server answers (maintenance window checks during a disconnect)."""
    seen: list[tuple[datetime, float]] = []

    def now() -> datetime:
        t = last()
        if not seen or seen[-1][0] != t:
            seen[:] = [(t, time.monotonic())]
            return t
        return t + timedelta(seconds=time.monotonic() - seen[-1][1])

    return now
