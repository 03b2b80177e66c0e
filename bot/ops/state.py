"""What metrics, health, the status page and notifications read of the daemon's state.

``StateSource`` is the seam: the connection supervisor (issue 10) and the risk manager's states
(issue 9) plug in by giving the daemon their own implementation of a method, one line each in
``DaemonState``. Today's facts: connected or not from ``ib.isConnected()``, reconnects counted
on ``ib.connectedEvent``, data farms from IB's farm notices (codes 2103..2108, 2157, 2158), and
the risk manager's ACTIVE / REDUCING / HALTED per strategy and for the account, with why.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ib_insync import IB

    from bot.risk import RiskManager
    from bot.risk_state import State

RISK_STATES = ("ACTIVE", "REDUCING", "HALTED")
CONNECTION_STATES = ("connected", "disconnected")
ALL = "all"  # the risk scope of every strategy at once

# IB's farm notices: code -> the farm's state (https://interactivebrokers.github.io/tws-api/
# message_codes.html); the farm's name ends the message ("...connection is OK:usfarm").
_FARM_CODES = {
    2103: "broken", 2104: "ok", 2105: "broken", 2106: "ok", 2107: "inactive", 2108: "inactive",
    2157: "broken", 2158: "ok",
}  # fmt: skip


@dataclass(frozen=True, slots=True)
class RiskState:
    state: str  # one of RISK_STATES
    reason: str = ""


class StateSource(Protocol):
    def connection_state(self) -> str:
        """One of CONNECTION_STATES (issue 10 may add its own, e.g. "reconnecting")."""

    def reconnects(self) -> int: ...

    def farm_states(self) -> Mapping[str, str]:
        """Data farm name -> "ok" | "broken" | "inactive"."""

    def risk_states(self) -> Mapping[str, RiskState]:
        """Strategy id (or ALL, the account) -> its state and why."""


class FarmNotices:
    """The data farms' states from IB's error-event notices."""

    def __init__(self) -> None:
        self.states: dict[str, str] = {}

    def on_error(self, req_id: int, code: int, message: str, *_: Any) -> None:
        state = _FARM_CODES.get(code)
        if state is not None:
            farm = message.rsplit(":", 1)[-1].strip() or f"code {code}"
            self.states[farm] = state


class DaemonState:
    """Today's StateSource over a running Daemon's ib_insync connection and RiskManager."""

    def __init__(
        self,
        ib: IB,
        risk: RiskManager | None,
        strategy_ids: list[str],
        now: Callable[[], datetime],
    ) -> None:
        self.ib = ib
        self.risk = risk
        self.now = now
        self.strategy_ids = strategy_ids
        self.farms = FarmNotices()
        self._connects = 0
        ib.errorEvent += self.farms.on_error
        ib.connectedEvent += self._on_connected

    def close(self) -> None:
        self.ib.errorEvent -= self.farms.on_error
        self.ib.connectedEvent -= self._on_connected

    def _on_connected(self) -> None:
        self._connects += 1

    def connection_state(self) -> str:
        return "connected" if self.ib.isConnected() else "disconnected"

    def reconnects(self) -> int:
        # Built once connected: every connect it sees is a reconnect.
        return self._connects

    def farm_states(self) -> Mapping[str, str]:
        return dict(self.farms.states)

    def risk_states(self) -> Mapping[str, RiskState]:
        risk = self.risk
        if risk is None:
            return {}
        now = self.now()
        # A read on the bot's clock: the risk manager's own states (bot/risk_state.py).
        out = {ALL: _risk_state(risk.state(None, now))}
        for sid in self.strategy_ids:
            out[sid] = _risk_state(risk.state(sid, now))
        return out


def _risk_state(state: State) -> RiskState:
    return RiskState(state.level.name, state.reason)
