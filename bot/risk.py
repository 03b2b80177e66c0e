"""Risk stage: every intent passes ``RiskManager.check`` before the executor sees it.

``check`` does no I/O beyond buffering a journal row for a rejection, allocates nothing on
the approve path and costs a few microseconds. Its checks, in order:

1. kill switch: a halted scope accepts only cancels and position-reducing orders; a
   strategy's own kill lasts until its next exchange trading day (``next_day``), an
   operator's ("all") until ``resume``;
2. order completeness (prices the order type needs, bracket legs on the other side);
3. allowed order types;
4. max order notional (quantity x limit/stop price, else the reference price);
5. max position per symbol, absolute, after the order and any same-side working orders;
   an order that shrinks the position is never refused by this check;
6. max orders per minute per strategy (orders, brackets, modifies, target trades).

The only state it changes is the orders-per-minute window (an approved order counts) and
the kill switch. Cancel/flatten sent by the executor itself never pass through here.
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.config import RiskConfig
from bot.events import (
    CancelOrder,
    KillSwitch,
    ModifyOrder,
    OrderIntent,
    OrderSpec,
    OrderType,
    PlaceBracket,
    PlaceOrder,
    Rejection,
    Side,
    TargetPosition,
    WorkingOrder,
)
from bot.journal import Journal
from bot.orders_build import validate_bracket, validate_spec

log = logging.getLogger(__name__)

_MINUTE = timedelta(minutes=1)
_ALL = "*"  # kill-switch scope key for "every strategy"

NextDay = Callable[[str, datetime], datetime | None]  # (strategy id, now) -> next day's start


@dataclass(frozen=True, slots=True)
class _Halt:
    reason: str
    until: datetime | None  # event time at which it lifts by itself; None: until resume


class RiskManager:
    def __init__(self, cfg: RiskConfig, journal: Journal, next_day: NextDay | None = None) -> None:
        """``next_day(strategy_id, now)``: start of the strategy's next exchange trading day
        (``bot.context.next_trading_day`` over its contracts); without it, or when it returns
        None, a strategy's kill also lasts until ``resume``."""
        self.cfg = cfg
        self.journal = journal
        self._next_day = next_day
        allowed = frozenset(str(OrderType(t)) for t in cfg.allowed_order_types)
        # All types allowed (the default): skip the check instead of a set lookup per intent.
        self._allowed: frozenset[str] | None = None if len(allowed) == len(OrderType) else allowed
        self._recent: dict[str, deque[datetime]] = {}
        self._halted: dict[str, _Halt] = {}  # strategy id or _ALL

    # ---- kill switch --------------------------------------------------------------------

    def kill(self, reason: str, *, strategy_id: str | None, now: datetime) -> None:
        """Halt new entries for one strategy until its next trading day (a daily limit must
        not end the strategy's later days), or for all (when None) until ``resume``."""
        until = None
        if strategy_id is not None and self._next_day is not None:
            until = self._next_day(strategy_id, now)
        self._halted[strategy_id or _ALL] = _Halt(reason, until)
        scope = strategy_id or "all strategies"
        lasts = "resume" if until is None else f"{until:%Y-%m-%d %H:%M} UTC"
        log.warning("kill switch for %s until %s: %s", scope, lasts, reason)
        self.journal.record_risk_event("kill", reason, now, strategy_id=strategy_id)

    def resume(self, *, strategy_id: str | None, now: datetime) -> None:
        self._halted.pop(strategy_id or _ALL, None)
        self.journal.record_risk_event("resume", "operator resume", now, strategy_id=strategy_id)

    def is_halted(self, strategy_id: str, now: datetime | None = None) -> bool:
        """Whether new entries are refused (at ``now``: a strategy's kill may have lifted)."""
        return bool(self._halted) and self._halt(strategy_id, now) is not None

    def _halt(self, sid: str, now: datetime | None) -> _Halt | None:
        """The halt in force for ``sid``: its own (lifted here once ``now`` reaches its end,
        journalled as a resume), else the operator's."""
        own = self._halted.get(sid)
        if own is not None and own.until is not None and now is not None and now >= own.until:
            del self._halted[sid]
            log.info("kill switch for %s lifted: a new trading day", sid)
            self.journal.record_risk_event("resume", "new trading day", now, strategy_id=sid)
            own = None
        return own or self._halted.get(_ALL)

    # ---- the check ----------------------------------------------------------------------

    def check(
        self,
        strategy_id: str,
        intent: OrderIntent,
        *,
        position: float,
        ref_price: float,
        now: datetime,
        working: Mapping[str, WorkingOrder] | None = None,
    ) -> Rejection | None:
        """None to approve, else a journalled Rejection saying what to change.

        ``working``: the strategy's working orders on the intent's symbol (the executor's
        ``working_orders``); when given, same-side working quantity counts toward
        max_position and ModifyOrder is checked against the order it modifies.
        """
        if isinstance(intent, KillSwitch):
            # The kill switch rides the intent path: halt here, the executor cancels + flattens.
            scope = None if intent.scope == "all" else strategy_id
            self.kill(intent.reason, strategy_id=scope, now=now)
            return None
        reason = self._reason(strategy_id, intent, position, ref_price, now, working)
        if reason is None:
            if self.cfg.max_orders_per_minute and _sends(intent, position):
                self._recent.setdefault(strategy_id, deque()).append(now)
            return None
        rejection = Rejection(strategy_id, intent, reason, now)
        self.journal.record_rejection(rejection)
        log.warning("rejected %s for %s: %s", type(intent).__name__, strategy_id, reason)
        return rejection

    def _reason(
        self,
        sid: str,
        intent: OrderIntent,
        position: float,
        ref_price: float,
        now: datetime,
        working: Mapping[str, WorkingOrder] | None,
    ) -> str | None:
        if isinstance(intent, CancelOrder | KillSwitch):
            return None  # cancelling never adds risk, even when halted
        spec, why = self._as_spec(intent, position, working)
        if why is not None:
            return why
        if spec is None:
            return None  # nothing to trade (target already reached)
        symbol = intent.symbol
        delta = spec.action.sign * spec.quantity
        # Reducing = toward flat without crossing it: never a new entry, whatever the limits.
        reduces = position * delta < 0 and abs(delta) <= abs(position) + 1e-9
        if self._halted and not reduces and (halt := self._halt(sid, now)) is not None:
            return f"kill switch active for {sid}: {halt.reason}; only exits are accepted"
        if self._allowed is not None and str(spec.order_type) not in self._allowed:
            allowed = ", ".join(sorted(self._allowed))
            return f"order type {spec.order_type} not allowed (risk.allowed_order_types: {allowed})"
        if (why := self._notional(symbol, spec, ref_price)) is not None:
            return why
        if not reduces and (why := self._position(symbol, spec, position, working)) is not None:
            return why
        return self._rate(sid, now)

    def _as_spec(
        self,
        intent: OrderIntent,
        position: float,
        working: Mapping[str, WorkingOrder] | None,
    ) -> tuple[OrderSpec | None, str | None]:
        """The order leg that adds exposure (the entry of a bracket), or why it is malformed."""
        if isinstance(intent, PlaceOrder):
            return intent.order, validate_spec(intent.order, intent.symbol)
        if isinstance(intent, PlaceBracket):
            return intent.entry, validate_bracket(intent)
        if isinstance(intent, TargetPosition):
            diff = intent.quantity - position
            if abs(diff) < 1e-9:
                return None, None
            side = Side.BUY if diff > 0 else Side.SELL
            return OrderSpec(side, abs(diff)), None
        if isinstance(intent, ModifyOrder):
            return self._modified_spec(intent, working)
        return None, None  # unknown intents (e.g. KillSwitch) are the engine's business

    @staticmethod
    def _modified_spec(
        intent: ModifyOrder, working: Mapping[str, WorkingOrder] | None
    ) -> tuple[OrderSpec | None, str | None]:
        if working is None:
            return None, None  # the executor will refuse a modify of an unknown tag
        wo = working.get(intent.tag)
        if wo is None:
            return None, f"no working order tagged {intent.tag!r} on {intent.symbol} to modify"
        if intent.quantity is not None and intent.quantity <= wo.filled:
            return None, (
                f"cannot modify {intent.tag!r} on {intent.symbol} to {intent.quantity:g}: "
                f"{wo.filled:g} already filled"
            )
        old = wo.spec
        extra = intent.quantity - old.quantity if intent.quantity is not None else 0.0
        if extra <= 0:
            return None, None  # a price change or a smaller order adds no exposure
        limit = intent.limit_price if intent.limit_price is not None else old.limit_price
        stop = intent.stop_price if intent.stop_price is not None else old.stop_price
        return OrderSpec(old.action, extra, old.order_type, limit, stop), None

    def _notional(self, symbol: str, spec: OrderSpec, ref_price: float) -> str | None:
        cap = self.cfg.max_order_notional
        if cap is None:
            return None
        price = spec.limit_price or spec.stop_price or ref_price
        if not price > 0:  # NaN too: an unpriced order cannot be shown to be under the cap
            return f"max_order_notional: no reference price for {symbol} yet to value the order"
        notional = spec.quantity * price
        if notional > cap:
            return (
                f"max_order_notional {cap:g} exceeded for {symbol}: "
                f"order {spec.quantity:g} x {price:.2f} = {notional:.2f}"
            )
        return None

    def _position(
        self,
        symbol: str,
        spec: OrderSpec,
        position: float,
        working: Mapping[str, WorkingOrder] | None,
    ) -> str | None:
        cap = self.cfg.max_position
        if cap is None:
            return None
        sign = spec.action.sign
        pending = 0.0
        if working:
            # Worst case: every same-side working order fills (exits on the other side may not).
            for wo in working.values():
                if wo.spec.action is spec.action:
                    pending += max(wo.spec.quantity - wo.filled, 0.0)
        after = position + sign * (pending + spec.quantity)
        if abs(after) <= cap + 1e-9:
            return None
        shown = f"position {position:g}"
        if pending:
            shown += f" + working {sign * pending:g}"
        order = sign * spec.quantity
        return f"max_position {cap:g} exceeded for {symbol}: {shown} + order {order:g}"

    def _rate(self, sid: str, now: datetime) -> str | None:
        cap = self.cfg.max_orders_per_minute
        if not cap:
            return None
        recent = self._recent.get(sid)
        if recent is None:
            return None
        cutoff = now - _MINUTE
        while recent and recent[0] <= cutoff:
            recent.popleft()
        if len(recent) >= cap:
            n = len(recent)
            return f"max_orders_per_minute {cap} reached for {sid}: {n} in the last minute"
        return None


def _sends(intent: OrderIntent, position: float) -> bool:
    """Whether an approved intent puts an order on the wire (counts toward the rate)."""
    if isinstance(intent, CancelOrder | KillSwitch):
        return False
    if isinstance(intent, TargetPosition):
        return abs(intent.quantity - position) >= 1e-9
    return True
