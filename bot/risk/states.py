"""Risk states per scope (a strategy, or the account): ACTIVE, REDUCING, HALTED, each with why.

A scope's state is the strongest of its holds. A hold is set by one cause (``key``: a limit,
the kill switch, a cooldown, or an outside reason: the connection supervisor's "connectivity"
and "maintenance", the watchdog's "stale data", a "reject storm", the operator's stop) and ends
when that cause releases it, at its ``until`` (the next trading day for daily limits), or at an
operator's ``resume``. A hold may cover one symbol only (``symbol``: the watchdog's pause of a
silent stream); it then binds only intents on that symbol. Every change is logged and
journalled (risk_events 'hold' / 'release'); ``restore`` replays the journal's changes of the
current broker identity, so a restart keeps the states, except ``transient`` holds: facts of
one connection (connectivity, maintenance, stale data) that the next start re-derives from
what it sees, so a hold journalled before a crash cannot outlive the fault.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from typing import Protocol

from bot.journal.store import Journal

log = logging.getLogger(__name__)

ACCOUNT = "*"  # the account scope's key


class Level(IntEnum):
    ACTIVE = 0  # every order the limits allow
    REDUCING = 1  # only orders that reduce a position, and cancels
    HALTED = 2  # only cancels (and the risk stage's own flatten)


@dataclass(frozen=True, slots=True)
class Hold:
    key: str
    level: Level
    reason: str
    until: datetime | None = None  # lifts by itself at this event time; None: until resume
    symbol: str | None = None  # binds only intents on this symbol (None: every symbol)
    transient: bool = False  # not restored at restart (module doc)

    def to_json(self) -> str:
        until = None if self.until is None else self.until.isoformat()
        d: dict[str, object] = {"key": self.key, "level": self.level.name, "until": until}
        if self.symbol is not None:
            d["symbol"] = self.symbol
        if self.transient:
            d["transient"] = True
        return json.dumps(d)

    def binds(self, symbol: str | None) -> bool:
        """Whether it applies to an intent on ``symbol`` (None: any, for the overview)."""
        return self.symbol is None or symbol is None or self.symbol == symbol


@dataclass(frozen=True, slots=True)
class State:
    level: Level
    reason: str  # "" when ACTIVE


_ACTIVE = State(Level.ACTIVE, "")


class EntryPauses(Protocol):
    """Pausing entries from outside the risk stage (the connection supervisor, the staleness
    watchdog, the engine's reject storm): REDUCING holds of the risk manager
    (bot/risk/manager.py)."""

    def pause_entries(
        self, key: str, reason: str, *, now: datetime, strategy_id: str | None = None,
        symbol: str | None = None, transient: bool = False, resumable: bool = False,
        expected: bool = False,
    ) -> bool: ...  # fmt: skip

    def clear(self, key: str, *, now: datetime, strategy_id: str | None = None,
              symbol: str | None = None) -> bool: ...  # fmt: skip


def scope_name(scope: str) -> str:
    return "the account" if scope == ACCOUNT else scope


class RiskStates:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._holds: dict[str, dict[str, Hold]] = {}  # scope -> key -> hold

    def __bool__(self) -> bool:
        return bool(self._holds)

    def state(self, scope: str, now: datetime | None = None, symbol: str | None = None) -> State:
        """The strongest hold of one scope binding ``symbol`` (None: any hold, a symbol's
        named in its reason); expired holds are released here."""
        holds = self._holds.get(scope)
        if not holds:
            return _ACTIVE
        best: Hold | None = None
        for h in list(holds.values()):
            if h.until is not None and now is not None and now >= h.until:
                self.release(scope, h.key, "its time is up (a new trading day)", now)
                continue
            if h.binds(symbol) and (best is None or h.level > best.level):
                best = h
        return _ACTIVE if best is None else State(best.level, best.reason)

    def effective(self, strategy_id: str, now: datetime, symbol: str | None = None) -> State:
        """What applies to a strategy (on ``symbol``): its own state or the account's, the
        stronger."""
        own = self.state(strategy_id, now, symbol) if strategy_id in self._holds else _ACTIVE
        acct = self.state(ACCOUNT, now, symbol) if ACCOUNT in self._holds else _ACTIVE
        return acct if acct.level > own.level else own

    def holds(self, scope: str) -> dict[str, Hold]:
        return dict(self._holds.get(scope, {}))

    def has(self, scope: str, key: str) -> bool:
        return key in self._holds.get(scope, {})

    def scopes(self) -> list[str]:
        return list(self._holds)

    def hold(self, scope: str, hold: Hold, now: datetime, *, expected: bool = False) -> bool:
        """Set (or replace) one hold; False when the same one is already in force.
        ``expected`` (the maintenance window): logged at INFO, not as an alarm."""
        holds = self._holds.setdefault(scope, {})
        if holds.get(hold.key) == hold:
            return False
        before = self.state(scope, now)
        holds[hold.key] = hold
        level = logging.INFO if expected else logging.WARNING
        lasts = "resume" if hold.until is None else f"{hold.until:%Y-%m-%d %H:%M} UTC"
        if hold.transient:
            lasts = "cleared"
        log.log(level, "risk: %s %s until %s: %s", scope_name(scope), hold.level.name, lasts,
                hold.reason)  # fmt: skip
        self.journal.record_state("hold", _db_scope(scope), hold.reason, hold.to_json(), now)
        after = self.state(scope, now)
        if after != before:
            log.log(level, "risk: %s is now %s (%s)", scope_name(scope), after.level.name,
                    after.reason)  # fmt: skip
        return True

    def release(self, scope: str, key: str, reason: str, now: datetime) -> bool:
        holds = self._holds.get(scope)
        if not holds or key not in holds:
            return False
        gone = holds.pop(key)
        if not holds:
            del self._holds[scope]
        log.info("risk: %s released %s (%s): %s", scope_name(scope), gone.level.name, gone.key,
                 reason)  # fmt: skip
        self.journal.record_state("release", _db_scope(scope), reason,
                                  json.dumps({"key": key}), now)  # fmt: skip
        return True

    def restore(self, now: datetime) -> None:
        """Replay the journal's changes of this broker identity (no new rows but expiries)."""
        holds = self._holds
        for db_scope, kind, reason, data in self.journal.reads.risk_states():
            scope = ACCOUNT if db_scope is None else db_scope
            d = json.loads(data or "{}")
            key = d.get("key", "")
            if kind == "release":
                holds.get(scope, {}).pop(key, None)
                continue
            if d.get("transient"):
                continue  # the next connection re-derives it (module doc)
            until = d.get("until")
            hold = Hold(key, Level[d.get("level", "HALTED")], reason,
                        None if until is None else datetime.fromisoformat(until),
                        d.get("symbol"))  # fmt: skip
            holds.setdefault(scope, {})[key] = hold
        self._holds = {s: h for s, h in holds.items() if h}
        for scope in list(self._holds):
            st = self.state(scope, now)
            if st.level is not Level.ACTIVE:
                log.warning("risk: %s restored %s: %s", scope_name(scope), st.level.name,
                            st.reason)  # fmt: skip


def _db_scope(scope: str) -> str | None:
    return None if scope == ACCOUNT else scope
