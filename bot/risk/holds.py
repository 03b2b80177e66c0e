"""The risk stage's holds: kill, halt, resume, outside pauses, and the states they make.

``RiskHolds`` is what the supervisor, the watchdog, the operator and the router ask of the risk
stage outside a decision; ``RiskManager`` (bot/risk/manager.py) adds the checks on top.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta

from bot.journal.store import Journal
from bot.portfolio.book import Portfolio
from bot.risk.states import ACCOUNT, Hold, Level, RiskStates, State, scope_name

log = logging.getLogger(__name__)

NextDay = Callable[[str, datetime], datetime | None]  # (strategy id, now) -> next day's start


class RiskHolds:
    def __init__(self, journal: Journal, portfolio: Portfolio, next_day: NextDay | None) -> None:
        """``next_day(strategy_id, now)``: start of the strategy's next exchange trading day
        (``bot.strategy.context.next_trading_day`` over its contracts): daily holds last until
        then."""
        self.journal = journal
        self.portfolio = portfolio
        self.states = RiskStates(journal)
        self._next_day = next_day
        self._external: set[str] = set()  # hold keys set from outside (pause_entries)
        self._waived: dict[tuple[str, str], datetime] = {}  # resumed daily holds: until when

    def state(self, strategy_id: str | None, now: datetime) -> State:
        """A strategy's effective state (its own or the account's), or the account's."""
        if strategy_id is None:
            return self.states.state(ACCOUNT, now)
        return self.states.effective(strategy_id, now)

    def not_active(self, now: datetime) -> list[str]:
        """Scopes not ACTIVE, for the status line and summary: "s1 REDUCING (why)"."""
        out = []
        for scope in self.states.scopes():
            st = self.states.state(scope, now)
            if st.level is not Level.ACTIVE:
                out.append(f"{scope_name(scope)} {st.level.name} ({st.reason})")
        return out

    def restore(self, now: datetime) -> None:
        """The states journalled by earlier runs of this broker identity."""
        self.states.restore(now)

    def kill(self, reason: str, *, strategy_id: str | None, now: datetime) -> None:
        """HALTED: a strategy's (its KillSwitch: until its next trading day) or the account's
        (the operator's: until ``resume``). The caller cancels and flattens."""
        until = None if strategy_id is None else self.until(strategy_id, now)
        self.states.hold(strategy_id or ACCOUNT, Hold("kill", Level.HALTED, reason, until), now)

    def halt(self, reason: str, *, strategy_id: str | None, now: datetime) -> None:
        """The operator's kill of one scope: HALTED until ``resume``."""
        self.states.hold(strategy_id or ACCOUNT, Hold("kill", Level.HALTED, reason), now)

    def resume(self, *, strategy_id: str | None, now: datetime, reason: str = "") -> None:
        """Lift every hold of a scope but outside ones (``pause_entries``): the operator's word
        overrides the limits for the rest of their day (a daily limit does not fire again)."""
        why = reason or "operator resume"
        scope = strategy_id or ACCOUNT
        held = self.states.holds(scope)
        for key, hold in held.items():
            if key in self._external:
                continue
            if hold.until is not None:
                self._waived[(scope, key)] = hold.until
            self.states.release(scope, key, why, now)
        if not held:
            log.info("resume: %s was not held", scope_name(scope))

    def pause_entries(
        self, key: str, reason: str, *, now: datetime, strategy_id: str | None = None,
        symbol: str | None = None, transient: bool = False, resumable: bool = False,
        expected: bool = False,
    ) -> bool:  # fmt: skip
        """REDUCING for an outside reason until ``clear(key)``, for a scope or one ``symbol`` of
        it: the supervisor's connectivity and maintenance, the watchdog's stale data, the
        operator's stop (journalled like any hold; ``transient`` ones are not restored, see
        bot/risk/states.py). An operator's resume leaves it alone (its cause has to go) unless
        ``resumable`` (a reject storm). False when that pause was already in force."""
        hold_key = _hold_key(key, symbol)
        if not resumable:
            self._external.add(hold_key)
        hold = Hold(hold_key, Level.REDUCING, reason, None, symbol, transient)
        return self.states.hold(strategy_id or ACCOUNT, hold, now, expected=expected)

    def clear(self, key: str, *, now: datetime, strategy_id: str | None = None,
              symbol: str | None = None) -> bool:  # fmt: skip
        """Lift a ``pause_entries``; False if it was not in force."""
        return self.states.release(strategy_id or ACCOUNT, _hold_key(key, symbol), "cleared", now)

    def paused(self, key: str, *, strategy_id: str | None = None,
               symbol: str | None = None) -> bool:  # fmt: skip
        return self.states.has(strategy_id or ACCOUNT, _hold_key(key, symbol))

    def waived(self, scope: str, key: str, now: datetime) -> bool:
        """Whether the operator resumed this daily hold for the rest of its day."""
        until = self._waived.get((scope, key))
        return until is not None and now < until

    def until(self, strategy_id: str | None, now: datetime) -> datetime:
        """When a daily hold of the scope ends: its next trading day, else the next UTC day."""
        nxt = None
        if strategy_id is not None and self._next_day is not None:
            nxt = self._next_day(strategy_id, now)
        return nxt or self.portfolio.day_start(now) + timedelta(days=1)


def _hold_key(key: str, symbol: str | None) -> str:
    return key if symbol is None else f"{key}:{symbol}"
