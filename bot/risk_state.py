"""Risk states per scope (a strategy, or the account): ACTIVE, REDUCING, HALTED, each with why.

A scope's state is the strongest of its holds. A hold is set by one cause (``key``: a limit,
the kill switch, a cooldown, or an outside reason such as "entries paused" while disconnected)
and ends when that cause releases it, at its ``until`` (the next trading day for daily limits),
or at an operator's ``resume``. Every change is logged and journalled (risk_events 'hold' /
'release'); ``restore`` replays the journal's changes of the current broker identity, so a
restart keeps the states.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum

from bot.journal import Journal

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

    def to_json(self) -> str:
        until = None if self.until is None else self.until.isoformat()
        return json.dumps({"key": self.key, "level": self.level.name, "until": until})


@dataclass(frozen=True, slots=True)
class State:
    level: Level
    reason: str  # "" when ACTIVE


_ACTIVE = State(Level.ACTIVE, "")


def scope_name(scope: str) -> str:
    return "the account" if scope == ACCOUNT else scope


class RiskStates:
    def __init__(self, journal: Journal) -> None:
        self.journal = journal
        self._holds: dict[str, dict[str, Hold]] = {}  # scope -> key -> hold

    def __bool__(self) -> bool:
        return bool(self._holds)

    def state(self, scope: str, now: datetime | None = None) -> State:
        """The strongest hold of one scope (expired holds are released here)."""
        holds = self._holds.get(scope)
        if not holds:
            return _ACTIVE
        best: Hold | None = None
        for h in list(holds.values()):
            if h.until is not None and now is not None and now >= h.until:
                self.release(scope, h.key, "its time is up (a new trading day)", now)
                continue
            if best is None or h.level > best.level:
                best = h
        return _ACTIVE if best is None else State(best.level, best.reason)

    def effective(self, strategy_id: str, now: datetime) -> State:
        """What applies to a strategy: its own state or the account's, the stronger."""
        own = self.state(strategy_id, now) if strategy_id in self._holds else _ACTIVE
        acct = self.state(ACCOUNT, now) if ACCOUNT in self._holds else _ACTIVE
        return acct if acct.level > own.level else own

    def holds(self, scope: str) -> dict[str, Hold]:
        return dict(self._holds.get(scope, {}))

    def has(self, scope: str, key: str) -> bool:
        return key in self._holds.get(scope, {})

    def scopes(self) -> list[str]:
        return list(self._holds)

    def hold(self, scope: str, hold: Hold, now: datetime) -> bool:
        """Set (or replace) one hold; False when the same one is already in force."""
        holds = self._holds.setdefault(scope, {})
        if holds.get(hold.key) == hold:
            return False
        before = self.state(scope, now)
        holds[hold.key] = hold
        lasts = "resume" if hold.until is None else f"{hold.until:%Y-%m-%d %H:%M} UTC"
        log.warning("risk: %s %s until %s: %s", scope_name(scope), hold.level.name, lasts,
                    hold.reason)  # fmt: skip
        self.journal.record_state("hold", _db_scope(scope), hold.reason, hold.to_json(), now)
        after = self.state(scope, now)
        if after != before:
            log.warning("risk: %s is now %s (%s)", scope_name(scope), after.level.name,
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

    def release_all(self, scope: str, reason: str, now: datetime) -> int:
        keys = list(self._holds.get(scope, {}))
        for key in keys:
            self.release(scope, key, reason, now)
        return len(keys)

    def restore(self, now: datetime) -> None:
        """Replay the journal's changes of this broker identity (no new rows but expiries)."""
        holds = self._holds
        for db_scope, kind, reason, data in self.journal.risk_states():
            scope = ACCOUNT if db_scope is None else db_scope
            d = json.loads(data or "{}")
            key = d.get("key", "")
            if kind == "release":
                holds.get(scope, {}).pop(key, None)
                continue
            until = d.get("until")
            hold = Hold(key, Level[d.get("level", "HALTED")], reason,
                        None if until is None else datetime.fromisoformat(until))  # fmt: skip
            holds.setdefault(scope, {})[key] = hold
        self._holds = {s: h for s, h in holds.items() if h}
        for scope in list(self._holds):
            st = self.state(scope, now)
            if st.level is not Level.ACTIVE:
                log.warning("risk: %s restored %s: %s", scope_name(scope), st.level.name,
                            st.reason)  # fmt: skip


def _db_scope(scope: str) -> str | None:
    return None if scope == ACCOUNT else scope
