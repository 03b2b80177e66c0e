"""The control channel: ``POST /control/<command>`` with a JSON body, from loopback only, with
``Authorization: Bearer <token>`` (the token from the env variable ``control.token_env``).
401 without a token, 403 with a wrong one or from another host.

Commands (``ibbot control CONFIG COMMAND``):
  stop-entries   {"strategy": id?}  refuse new entries (exits still pass): all, or one strategy
  resume-entries {"strategy": id?}
  flatten        {"strategy": id}   cancel its resting orders and close its positions at market
  reload         {"strategy": id, "params": {...}}  merged onto its params, validated against
                 its Params model; a bad value is refused with the error and nothing changes

Extension point: ``Control.register(name, handler)`` adds a command (the risk manager's
``kill`` / ``resume`` plug in there); a handler takes the JSON body and returns a JSON answer,
or raises ``CommandError`` for a 4xx.
"""

from __future__ import annotations

import hmac
import ipaddress
import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, cast

from pydantic import ValidationError

from bot.ops.http import Request, Response, json_response
from bot.risk.kill_switch import KILL, RESUME

if TYPE_CHECKING:
    from bot.live.daemon import Daemon
    from bot.risk.manager import RiskManager

log = logging.getLogger(__name__)

Command = Callable[[dict[str, Any]], dict[str, Any]]


_OPERATOR_HOLD = "operator-entries"  # the risk hold stop-entries sets

class CommandError(Exception):
    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def _loopback(peer: str) -> bool:
    try:
        return ipaddress.ip_address(peer).is_loopback
    except ValueError:
        return False


class Control:
    def __init__(self, token: str) -> None:
        self._token = token.encode()
        self.commands: dict[str, Command] = {}

    def register(self, name: str, handler: Command) -> None:
        self.commands[name] = handler

    async def handle(self, req: Request, name: str) -> Response:
        if not _loopback(req.peer):
            return json_response(403, {"error": "the control channel answers loopback only"})
        auth = req.headers.get("authorization", "")
        if not auth:
            return json_response(401, {"error": "missing token: Authorization: Bearer <token>"})
        given = auth.removeprefix("Bearer ").strip().encode()
        if not hmac.compare_digest(given, self._token):
            log.warning("control: %s refused (wrong token) from %s", name, req.peer)
            return json_response(403, {"error": "wrong token"})
        if req.method != "POST":
            return json_response(405, {"error": "use POST"})
        handler = self.commands.get(name)
        if handler is None:
            known = ", ".join(sorted(self.commands))
            return json_response(404, {"error": f"unknown command {name!r} (known: {known})"})
        try:
            body = req.json()
            if not isinstance(body, dict):
                raise CommandError(400, "the body must be a JSON object")
            answer = handler(body)
        except CommandError as e:
            return json_response(e.status, {"error": str(e)})
        except ValueError as e:  # bad JSON
            return json_response(400, {"error": f"bad JSON body: {e}"})
        log.info("control: %s %s -> %s", name, body, answer)
        return json_response(200, answer)


class DaemonCommands:
    """The built-in commands over a running Daemon."""

    def __init__(self, daemon: Daemon) -> None:
        self.d = daemon

    def register(self, control: Control) -> None:
        control.register("stop-entries", self.stop_entries)
        control.register("resume-entries", self.resume_entries)
        control.register("flatten", self.flatten)
        control.register("reload", self.reload)
        control.register("kill", lambda body: self._operator(KILL, body))
        control.register("resume", lambda body: self._operator(RESUME, body))

    def _operator(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        """``ibbot kill`` / ``ibbot resume`` through the channel: the same journalled request
        the commands write when the daemon is down (so a kill still holds across restarts),
        acted on at once instead of at the next poll."""
        sid = self._strategy(body, required=False)
        journal, operator = self.d.journal, self.d.control
        if journal is None or operator is None:
            raise CommandError(503, "the daemon is not trading yet")
        reason = str(body.get("reason") or f"operator {action}")
        rid = journal.control.request(action, sid, reason, datetime.now(UTC))
        operator.poll()
        return {"ok": True, action: sid or "all", "request": rid}

    def _strategy(self, body: dict[str, Any], *, required: bool) -> str | None:
        sid = body.get("strategy")
        if sid is None and not required:
            return None
        router = self.d.router
        if router is None or sid not in router.slots:
            known = ", ".join(router.slots) if router else ""
            raise CommandError(404 if sid else 400,
                               f"no strategy {sid!r} (running: {known})" if sid else
                               "missing 'strategy'")  # fmt: skip
        return str(sid)

    def _risk(self) -> RiskManager:
        assert self.d.router is not None
        return cast("RiskManager", self.d.router.risk)

    def stop_entries(self, body: dict[str, Any]) -> dict[str, Any]:
        """REDUCING (exits and cancels pass) until resume-entries, journalled like any hold."""
        sid = self._strategy(body, required=False)
        self._risk().pause_entries(
            _OPERATOR_HOLD, "operator: entries stopped", now=self.d.clock.now(), strategy_id=sid
        )
        return {"ok": True, "entries": "stopped", "scope": sid or "all"}

    def resume_entries(self, body: dict[str, Any]) -> dict[str, Any]:
        sid = self._strategy(body, required=False)
        self._risk().clear(_OPERATOR_HOLD, now=self.d.clock.now(), strategy_id=sid)
        return {"ok": True, "entries": "resumed", "scope": sid or "all"}

    def flatten(self, body: dict[str, Any]) -> dict[str, Any]:
        sid = self._strategy(body, required=True)
        assert self.d.executor is not None and sid is not None
        if not self.d.ib.isConnected():
            raise CommandError(409, "not connected to IB: nothing can be sent now")
        self.d.executor.flatten(sid)
        return {"ok": True, "flattened": sid}

    def reload(self, body: dict[str, Any]) -> dict[str, Any]:
        sid = self._strategy(body, required=True)
        assert self.d.router is not None and sid is not None
        params = body.get("params")
        if not isinstance(params, dict):
            raise CommandError(400, "missing 'params' (an object of the parameters to change)")
        slot = self.d.router.slots[sid]
        strategy = slot.strategy
        merged = {**strategy.params.model_dump(), **params}
        try:
            new = type(strategy).Params.model_validate(merged)
        except ValidationError as e:
            raise CommandError(400, f"{sid}: bad params, nothing changed: {e}") from None
        # Indicators are built once, at start-up: a change to them needs a restart.
        probe = type(strategy)(slot.ctx, new)
        if dict(probe.indicators()) != dict(strategy.indicators()):
            raise CommandError(409, f"{sid}: these params change its indicators "
                               f"({dict(probe.indicators())}); restart to apply them")  # fmt: skip
        strategy.params = new
        log.info("%s: params reloaded: %s", sid, new.model_dump())
        return {"ok": True, "strategy": sid, "params": new.model_dump(mode="json")}
