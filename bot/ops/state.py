"""What metrics, health, the status page and notifications read of the daemon's state.

``StateSource`` is the seam. The connection's state, since when and why, the reconnects and the
data farms are the connection supervisor's own (``bot.live.supervisor.ConnStatus``: one place
knows IB's codes); the risk states are the risk manager's ACTIVE / REDUCING / HALTED per
strategy and for the account, with why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from bot.live.supervisor import ConnStatus, Supervisor

if TYPE_CHECKING:
    from bot.risk.manager import RiskManager
    from bot.risk.states import State

RISK_STATES = ("ACTIVE", "REDUCING", "HALTED")
ALL = "all"  # the risk scope of every strategy at once


@dataclass(frozen=True, slots=True)
class RiskState:
    state: str  # one of RISK_STATES
    reason: str = ""


class StateSource(Protocol):
    def connection(self) -> ConnStatus:
        """The connection supervisor's read (its ``name`` one of ``STATE_NAMES``)."""

    def risk_states(self) -> Mapping[str, RiskState]:
        """Strategy id (or ALL, the account) -> its state and why."""


class DaemonState:
    """The StateSource of a running Daemon: its connection supervisor and RiskManager."""

    def __init__(
        self,
        supervisor: Supervisor,
        risk: RiskManager | None,
        strategy_ids: list[str],
        now: Callable[[], datetime],
    ) -> None:
        self.supervisor = supervisor
        self.risk = risk
        self.now = now
        self.strategy_ids = strategy_ids

    def connection(self) -> ConnStatus:
        return self.supervisor.status()

    def risk_states(self) -> Mapping[str, RiskState]:
        risk = self.risk
        if risk is None:
            return {}
        now = self.now()
        # A read on the bot's clock: the risk manager's own states (bot/risk/states.py).
        out = {ALL: _risk_state(risk.state(None, now))}
        for sid in self.strategy_ids:
            out[sid] = _risk_state(risk.state(sid, now))
        return out


def _risk_state(state: State) -> RiskState:
    return RiskState(state.level.name, state.reason)

