"""Scriptable faults of the simulated gateway: a plan loaded from YAML, and the live state.

A plan (``ibbot gateway --faults FILE``) is a list of steps, each fired once at a simulated
time (``at``, an ISO time with zone) or a simulated delay after the gateway started
(``after``: "90s", "2m", "1h30m" or seconds)::

    fill_while_disconnected: true   # optional wrapper: {fill_while_disconnected, steps: [...]}
    steps:
      - {after: 90s, do: connectivity_lost}
      - {after: 2m, do: connectivity_restored, data: kept}
      - {at: "2026-10-08T14:30:00Z", do: restart, seconds: 30, keep_orders: true}
      - {after: 5m, do: reject_orders, count: 2, symbol: AAPL, text: "No trading permissions"}

:class:`FaultState` is what the server consults, and its methods are the control handle that
tests call on demand. A method changes the state and returns the :data:`Effect` list the
server must carry out now (notices to send, sockets to close, orders or subscriptions to
drop). Every time here is simulated time, so faults are reproducible with a manual clock.

Fills while disconnected: the broker keeps every order across disconnects and the driver
keeps matching while no client is connected, so resting orders fill then and the fills show
in the next reqExecutions/reqCompletedOrders. ``fill_while_disconnected`` (default true)
documents that; false asks the driver to pause matching while no client is connected.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from types import MappingProxyType
from typing import Any, NoReturn

import yaml
from ib_insync import Contract, Order

from bot.gateway import ib_messages as M
from bot.gateway.ib_messages import IbError
from bot.model.intervals import parse_interval

log = logging.getLogger(__name__)

DEFAULT_REJECT_TEXT = "Simulated rejection (fault plan)"


class FaultPlanError(ValueError):
    """A bad fault plan; the message names the file, the line and the key."""


# ---- effects: what the server must do after a fault fires ------------------------------------


@dataclass(frozen=True, slots=True)
class Notice:
    """Send error ``code`` with ``text`` (reqId -1) to every connected client."""

    code: int
    text: str


@dataclass(frozen=True, slots=True)
class CloseClients:
    """Close every client socket."""


@dataclass(frozen=True, slots=True)
class DropOrders:
    """A restart that loses orders: cancel every working order without telling anyone."""


@dataclass(frozen=True, slots=True)
class DropMarketData:
    """1101 (data lost): end every client's market data subscriptions; clients resubscribe."""


Effect = Notice | CloseClients | DropOrders | DropMarketData


# ---- the plan ---------------------------------------------------------------------------------

_REQUIRED = object()


@dataclass(frozen=True, slots=True)
class Arg:
    kind: type
    default: Any = _REQUIRED
    choices: tuple[str, ...] = ()
    minimum: float | None = None


_FARM = {"farm": Arg(str, "market", ("market", "hmds")), "name": Arg(str, None)}
ACTIONS: dict[str, dict[str, Arg]] = {
    "disconnect_all": {},
    "restart": {"seconds": Arg(float, 10.0, minimum=0), "keep_orders": Arg(bool, True)},
    "connectivity_lost": {},
    "connectivity_restored": {"data": Arg(str, "kept", ("kept", "lost"))},
    "farm_broken": _FARM,
    "farm_ok": _FARM,
    "stop_data": {},
    "resume_data": {},
    "reject_orders": {
        "count": Arg(int, None, minimum=1),
        "text": Arg(str, DEFAULT_REJECT_TEXT),
        "symbol": Arg(str, None),
        "action": Arg(str, None, ("BUY", "SELL")),
        "order_type": Arg(str, None),
    },
    "clear_rejects": {},
    "delay_acks": {"seconds": Arg(float, minimum=0)},
    "rollback_next_id": {"by": Arg(int, 1, minimum=1)},
}


@dataclass(frozen=True, slots=True)
class FaultStep:
    """One action with its arguments (validated, defaults filled in) and when it fires."""

    action: str
    args: Mapping[str, Any] = field(default_factory=dict)
    at: datetime | None = None
    after: timedelta | None = None
    line: int = 0  # in the plan file, for logs

    def when(self, start: datetime) -> datetime | None:
        """The simulated time it fires, None for a step without a time."""
        if self.at is not None:
            return self.at
        return start + self.after if self.after is not None else None

    @classmethod
    def make(cls, action: str, /, **args: Any) -> FaultStep:
        """A step built in code (tests); arguments are checked as a plan's are."""
        at, after = args.pop("at", None), args.pop("after", None)
        return cls(
            action,
            _check_args(action, args, _raise),
            None if at is None else parse_at(at),
            None if after is None else parse_after(after),
        )


@dataclass(frozen=True, slots=True)
class FaultPlan:
    steps: tuple[FaultStep, ...] = ()
    fill_while_disconnected: bool = True

    @classmethod
    def load(cls, path: Path | str) -> FaultPlan:
        path = Path(path)
        try:
            text = path.read_text()
        except OSError as e:
            raise FaultPlanError(f"{path}: cannot read fault plan: {e}") from e
        return cls.from_text(text, str(path))

    @classmethod
    def from_text(cls, text: str, source: str = "<faults>") -> FaultPlan:
        try:
            root = yaml.compose(text, Loader=yaml.SafeLoader)
        except yaml.YAMLError as e:
            raise FaultPlanError(f"{source}: not valid YAML: {e}") from None
        return _Parser(source).plan(root)


Fail = Callable[[str, str], NoReturn]  # fail(key, problem) raises FaultPlanError


def _raise(key: str, problem: str) -> NoReturn:
    raise FaultPlanError(f"{key}: {problem}")


def _check_args(action: str, args: Mapping[str, Any], fail: Fail) -> Mapping[str, Any]:
    """Validate ``args`` for ``action`` and fill in defaults; ``fail(key, problem)`` raises."""
    spec = ACTIONS.get(action)
    if spec is None:
        fail("do", f"unknown action {action!r}{_suggest(action, ACTIONS)}")
    for key in args:
        if key not in spec:
            known = ", ".join(spec) or "none"
            fail(key, f"unknown argument for {action}{_suggest(key, spec)} (known: {known})")
    out: dict[str, Any] = {}
    for key, arg in spec.items():
        if key not in args:
            if arg.default is _REQUIRED:
                fail(key, f"{action} needs {key!r}")
            out[key] = arg.default
            continue
        out[key] = _check_value(key, args[key], arg, fail)
    return MappingProxyType(out)


def _check_value(key: str, value: Any, arg: Arg, fail: Fail) -> Any:
    kind = arg.kind
    if not _is_a(kind, value):
        fail(key, f"expected {kind.__name__}, got {value!r}")
    if arg.choices:
        value = value.upper() if arg.choices[0].isupper() else value
        if value not in arg.choices:
            fail(key, f"expected one of {', '.join(arg.choices)}, got {value!r}")
    if arg.minimum is not None and value < arg.minimum:
        fail(key, f"must be >= {arg.minimum:g}, got {value!r}")
    return float(value) if kind is float else value


def _is_a(kind: type, value: Any) -> bool:
    """YAML's types against the argument's: an int is a float, a bool is no number."""
    if isinstance(value, bool):
        return kind is bool
    if kind is float:
        return isinstance(value, (int, float))
    return isinstance(value, kind)


def _suggest(word: str, known: Mapping[str, Any]) -> str:
    close = difflib.get_close_matches(word, list(known), n=1)
    return f" (did you mean {close[0]!r}?)" if close else ""


def parse_after(value: Any) -> timedelta:
    """ "90s", "2m", "1h30m", "1.5s" or a number of seconds."""
    if isinstance(value, timedelta):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return timedelta(seconds=value)
    seconds = parse_interval(value) if isinstance(value, str) else None
    if seconds is None:
        raise ValueError(f"expected a duration like 90s, 2m or 1h30m, got {value!r}")
    return timedelta(seconds=seconds)


def parse_at(value: Any) -> datetime:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            msg = f"expected an ISO time like 2026-10-08T14:30:00Z, got {value!r}"
            raise ValueError(msg) from None
    if not isinstance(value, datetime):
        raise ValueError(f"expected an ISO time like 2026-10-08T14:30:00Z, got {value!r}")
    if value.tzinfo is None:
        raise ValueError(f"{value.isoformat()} has no time zone (write e.g. ...Z for UTC)")
    return value


class _Parser:
    """Turns the composed YAML nodes into a plan, keeping line numbers for errors."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._constructor = yaml.SafeLoader("")

    def fail(self, node: yaml.Node, where: str, problem: str) -> NoReturn:
        line = node.start_mark.line + 1
        raise FaultPlanError(f"{self.source}:{line}: {where}: {problem}")

    def value(self, node: yaml.Node) -> Any:
        return self._constructor.construct_object(node, deep=True)

    def plan(self, root: yaml.Node | None) -> FaultPlan:
        if root is None:
            return FaultPlan()
        fill = True
        steps_node: yaml.Node | None = root
        if isinstance(root, yaml.MappingNode):
            steps_node = None
            for k, v in root.value:
                key = self.value(k)
                if key == "steps":
                    steps_node = v
                elif key == "fill_while_disconnected":
                    fill = self.value(v)
                    if not isinstance(fill, bool):
                        self.fail(v, key, f"expected true or false, got {fill!r}")
                else:
                    known = {"steps": 0, "fill_while_disconnected": 0}
                    self.fail(k, str(key), f"unknown key{_suggest(str(key), known)}")
        if steps_node is None or (
            isinstance(steps_node, yaml.ScalarNode) and self.value(steps_node) is None
        ):
            return FaultPlan((), fill)
        if not isinstance(steps_node, yaml.SequenceNode):
            self.fail(steps_node, "steps", "expected a list of steps")
        steps = tuple(self.step(n, f"steps[{i}]") for i, n in enumerate(steps_node.value))
        return FaultPlan(steps, fill)

    def step(self, node: yaml.Node, where: str) -> FaultStep:
        if not isinstance(node, yaml.MappingNode):
            self.fail(node, where, "expected a mapping like {after: 90s, do: disconnect_all}")
        raw: dict[str, tuple[yaml.Node, Any]] = {}
        for k, v in node.value:
            raw[str(self.value(k))] = (k, self.value(v))
        if "do" not in raw:
            self.fail(node, where, "missing key 'do' (the action)")
        do_node, action = raw.pop("do")
        at_item, after_item = raw.pop("at", None), raw.pop("after", None)
        if (at_item is None) == (after_item is None):
            self.fail(node, where, "needs exactly one of 'at' (time) or 'after' (delay)")
        at = after = None
        try:
            if at_item is not None:
                at = parse_at(at_item[1])
            elif after_item is not None:
                after = parse_after(after_item[1])
        except ValueError as e:
            bad = at_item or after_item
            assert bad is not None
            self.fail(bad[0], f"{where}.{'at' if at_item else 'after'}", str(e))

        def fail(key: str, problem: str) -> NoReturn:
            item_node = do_node if key == "do" else raw.get(key, (node, None))[0]
            self.fail(item_node, f"{where}.{key}", problem)

        if not isinstance(action, str):
            fail("do", f"expected an action name, got {action!r}")
        args = _check_args(action, {k: v for k, (_, v) in raw.items()}, fail)
        return FaultStep(action, args, at, after, node.start_mark.line + 1)


# ---- the live state ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RejectRule:
    """Reject orders matching every given field; ``remaining`` None means until cleared."""

    text: str
    remaining: int | None = None
    symbol: str | None = None
    action: str | None = None
    order_type: str | None = None

    def matches(self, contract: Contract, order: Order) -> bool:
        return (
            (self.symbol is None or self.symbol.upper() in _symbols(contract))
            and (self.action is None or self.action == order.action.upper())
            and (self.order_type is None or self.order_type.upper() == order.orderType.upper())
        )


def _symbols(c: Contract) -> set[str]:
    return {c.symbol.upper(), c.localSymbol.upper()} - {""}


class FaultState:
    """The faults in force now; the server reads the attributes and calls the ``check``
    methods, tests call the action methods directly (the control handle)."""

    def __init__(self, plan: FaultPlan | None = None, start: datetime | None = None) -> None:
        self.plan = plan or FaultPlan()
        self.start = start
        self.fill_while_disconnected = self.plan.fill_while_disconnected
        self.refusing_until: datetime | None = None
        self.connected = True  # IB <-> gateway connectivity (1100 .. 1101/1102)
        self.data_paused = False  # stop_data / resume_data
        self.farms: dict[str, bool] = {M.MARKET_FARM: True, M.HMDS_FARM: True}
        self.reject_rules: list[RejectRule] = []
        self.ack_delay = timedelta(0)
        self.id_rollback = 0
        self._fired = 0
        self._schedule: list[tuple[datetime, FaultStep]] | None = None

    # ---- what the server consults ----

    @property
    def data_stopped(self) -> bool:
        """No market data streams now: paused, connectivity lost, or the market farm broken."""
        return self.data_paused or not self.connected or not self.farms[M.MARKET_FARM]

    def refusing(self, now: datetime) -> bool:
        """Refuse new connections (a restart is in progress)."""
        return self.refusing_until is not None and now < self.refusing_until

    def order_rejection(self, contract: Contract, order: Order) -> IbError | None:
        """Error 201 for a new order that a reject rule catches (using up one of its count)."""
        for i, rule in enumerate(self.reject_rules):
            if rule.matches(contract, order):
                if rule.remaining is not None:
                    left = rule.remaining - 1
                    if left:
                        self.reject_rules[i] = _replace_remaining(rule, left)
                    else:
                        del self.reject_rules[i]
                return IbError(M.ORDER_REJECTED, M.order_rejected_text(rule.text))
        return None

    def next_valid_id(self, proposed: int) -> int:
        """The nextValidId to send: ``proposed`` less a pending rollback (used up once)."""
        rolled, self.id_rollback = max(1, proposed - self.id_rollback), 0
        return rolled

    # ---- time-triggered steps ----

    def due(self, now: datetime) -> list[FaultStep]:
        """Steps whose time has come and that have not fired yet, in time order (file
        order for equal times); each step is returned once."""
        if self._schedule is None:
            self._schedule = self._build_schedule()
        out = []
        while self._fired < len(self._schedule) and self._schedule[self._fired][0] <= now:
            out.append(self._schedule[self._fired][1])
            self._fired += 1
        return out

    def _build_schedule(self) -> list[tuple[datetime, FaultStep]]:
        timed = [s for s in self.plan.steps if s.at is not None or s.after is not None]
        if any(s.after is not None for s in timed) and self.start is None:
            raise ValueError("a fault plan with 'after' steps needs FaultState(start=...)")
        start = self.start or datetime.min
        sched = [(when, s) for s in timed if (when := s.when(start)) is not None]
        return sorted(sched, key=lambda ws: ws[0])

    def fire_due(self, now: datetime) -> list[Effect]:
        """Apply every due step; the effects of all of them, in order."""
        return [e for step in self.due(now) for e in self.apply(step, now)]

    def apply(self, step: FaultStep, now: datetime) -> list[Effect]:
        log.info("fault at %s: %s %s", now.isoformat(), step.action, dict(step.args))
        a = step.args
        match step.action:
            case "disconnect_all":
                return self.disconnect_all()
            case "restart":
                return self.restart(now, a["seconds"], keep_orders=a["keep_orders"])
            case "connectivity_lost":
                return self.connectivity_lost()
            case "connectivity_restored":
                return self.connectivity_restored(data_lost=a["data"] == "lost")
            case "farm_broken":
                return self.farm_broken(a["farm"], a["name"])
            case "farm_ok":
                return self.farm_ok(a["farm"], a["name"])
            case "stop_data":
                return self.stop_data()
            case "resume_data":
                return self.resume_data()
            case "reject_orders":
                return self.reject_orders(**a)
            case "clear_rejects":
                return self.clear_rejects()
            case "delay_acks":
                return self.delay_acks(a["seconds"])
            case "rollback_next_id":
                return self.rollback_next_id(a["by"])
        raise ValueError(f"unknown fault action {step.action!r}")

    # ---- the control handle: one method per action ----

    def disconnect_all(self) -> list[Effect]:
        return [CloseClients()]

    def restart(
        self, now: datetime, seconds: float = 10.0, keep_orders: bool = True
    ) -> list[Effect]:
        """Close every socket and refuse connections for ``seconds`` of simulated time."""
        self.refusing_until = now + timedelta(seconds=seconds)
        return [CloseClients()] if keep_orders else [CloseClients(), DropOrders()]

    def connectivity_lost(self) -> list[Effect]:
        self.connected = False
        return [Notice(M.CONNECTIVITY_LOST, M.TEXT_1100)]

    def connectivity_restored(self, data_lost: bool = False) -> list[Effect]:
        self.connected = True
        if data_lost:
            return [Notice(M.CONNECTIVITY_RESTORED_DATA_LOST, M.TEXT_1101), DropMarketData()]
        return [Notice(M.CONNECTIVITY_RESTORED_DATA_KEPT, M.TEXT_1102)]

    def farm_broken(self, farm: str = "market", name: str | None = None) -> list[Effect]:
        return self._farm(farm, name, ok=False)

    def farm_ok(self, farm: str = "market", name: str | None = None) -> list[Effect]:
        return self._farm(farm, name, ok=True)

    def _farm(self, farm: str, name: str | None, ok: bool) -> list[Effect]:
        market = farm == "market"
        key = M.MARKET_FARM if market else M.HMDS_FARM
        self.farms[key] = ok
        code = (
            (M.MARKET_FARM_OK if ok else M.MARKET_FARM_BROKEN)
            if market
            else (M.HMDS_FARM_OK if ok else M.HMDS_FARM_BROKEN)
        )
        return [Notice(code, M.farm_text(code, name or key))]

    def stop_data(self) -> list[Effect]:
        self.data_paused = True
        return []

    def resume_data(self) -> list[Effect]:
        self.data_paused = False
        return []

    def reject_orders(
        self,
        count: int | None = None,
        text: str = DEFAULT_REJECT_TEXT,
        symbol: str | None = None,
        action: str | None = None,
        order_type: str | None = None,
    ) -> list[Effect]:
        """Reject the next ``count`` orders matching the given fields (all of them when no
        field is given; every match until clear_rejects() when count is None)."""
        rule = RejectRule(text, count, symbol, action.upper() if action else None, order_type)
        self.reject_rules.append(rule)
        return []

    def clear_rejects(self) -> list[Effect]:
        self.reject_rules.clear()
        return []

    def delay_acks(self, seconds: float) -> list[Effect]:
        """Hold each new order (and a modify or cancel of it meanwhile) for ``seconds`` of
        simulated time before it reaches the broker: no openOrder/orderStatus acknowledgement
        and no fill until then (0 ends the delay)."""
        self.ack_delay = timedelta(seconds=seconds)
        return []

    def rollback_next_id(self, by: int = 1) -> list[Effect]:
        """The next nextValidId sent is ``by`` lower than it should be (a stale id)."""
        self.id_rollback = by
        return []


def _replace_remaining(rule: RejectRule, left: int) -> RejectRule:
    return RejectRule(rule.text, left, rule.symbol, rule.action, rule.order_type)
