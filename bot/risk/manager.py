"""Risk stage: every order passes ``RiskManager`` before the executor sees it.

Two scopes are checked for each intent: the strategy's own limits (``strategies[i].risk``: its
own position, orders and P&L) and the account's (``risk:``: sums over every strategy). Checks,
in order, the first failing one rejecting (journalled, and told to the strategy):

1. state: HALTED accepts only cancels, REDUCING only orders that reduce the strategy's position
   and price changes of working orders (bot/risk/states.py; a hold may bind one symbol only);
   the risk stage's own flatten is never refused (``own_order``);
2. order completeness, allowed order types, ``allow_short``;
3. max order quantity / notional, the price collar (fat finger);
4. trading window (liquid hours, the last minutes before the close): entries only;
5. max position (shares, notional) per symbol, gross / net exposure: entries only, counting
   same-side working orders; a ``TargetPosition`` over max_position is shrunk to it;
6. max open orders, orders per minute / per day, identical intents in a short window.

``on_bar`` (each closed bar) evaluates what P&L and the clock decide: daily loss and drawdown
(-> REDUCING, optionally flatten), daily profit target and ``halt_at`` (-> flatten, HALTED for
the day), flatten before the close, cooldowns lift. ``check`` reads states and counters only, so
a decision costs microseconds (bench/risk_bench.py).
"""

from __future__ import annotations

import logging
import math
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.config.settings import RiskConfig, RiskLimits
from bot.journal.store import Journal
from bot.model.events import (
    Bar,
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
from bot.model.targets import in_flight, target_spec
from bot.orders.build import validate_bracket, validate_spec
from bot.portfolio.book import Portfolio
from bot.risk.states import ACCOUNT, Hold, Level, RiskStates, State, scope_name
from bot.strategy.context import SymbolInfo
from bot.strategy.indicators import ATR
from bot.strategy.liquid_hours import liquid_session

log = logging.getLogger(__name__)

_MINUTE = timedelta(minutes=1)
_TICK = timedelta(microseconds=1)  # datetime's resolution: t <= x  <=>  t < x + _TICK
_EPS = 1e-9
# Enum members read once: on Python 3.11 each ``Side.BUY`` costs a descriptor call (~100 ns).
_BUY, _ACTIVE, _HALTED = Side.BUY, Level.ACTIVE, Level.HALTED

NextDay = Callable[[str, datetime], datetime | None]  # (strategy id, now) -> next day's start
Flatten = Callable[[str | None, str | None, str], None]  # (strategy or None, symbol or None, why)
Decision = Rejection | OrderIntent | None  # reject | approve this (shrunk) intent | approve
_Trade = PlaceOrder | PlaceBracket | ModifyOrder | TargetPosition  # what _decide weighs


class OpenOrders(Protocol):
    """What the risk stage reads of the working orders (the executor offers these)."""

    def open_orders(self, strategy_id: str | None) -> int: ...

    def working_on(self, symbol: str) -> Iterable[WorkingOrder]: ...


class _NoOrders:
    def open_orders(self, strategy_id: str | None) -> int:
        return 0

    def working_on(self, symbol: str) -> Iterable[WorkingOrder]:
        return ()


class _Scope:
    """One scope's limits and counters. The limits a decision reads are resolved here once,
    as plain attributes (a pydantic field costs a decision about 50 ns a read), with flags for
    which groups are on; ``scopes``: what a decision checks, this scope then the account's."""

    __slots__ = ("allow_short", "allowed", "atr_collar", "before_close", "collar", "day_orders",
                 "duplicates", "entries_open", "exposure", "hash_intents", "id", "lim", "losses",
                 "max_gross_exposure", "max_net_exposure", "max_open_orders",
                 "max_order_notional", "max_order_quantity", "max_orders_per_day",
                 "max_orders_per_minute", "max_position", "max_position_notional", "name",
                 "order_limits", "rates", "recent", "scopes", "sent_intents", "who",
                 "window")  # fmt: skip

    def __init__(self, scope_id: str, lim: RiskLimits, account: _Scope | None = None) -> None:
        self.id = scope_id
        self.scopes = (self,) if account is None else (self, account)
        self.who = None if scope_id == ACCOUNT else scope_id  # the portfolio's and orders' key
        self.name = scope_name(scope_id)
        self.lim = lim
        self.recent: deque[datetime] = deque()
        self.day_orders = 0
        self.losses = 0  # consecutive losing round trips
        # hash(intent) -> (intent, until when a repeat is a duplicate): hashed once per
        # decision for both scopes
        self.sent_intents: dict[int, tuple[OrderIntent, datetime]] = {}
        self.allowed = _allowed(lim)
        self.max_order_quantity = lim.max_order_quantity
        self.max_order_notional = lim.max_order_notional
        self.order_limits = (self.allowed is not None or lim.max_order_quantity is not None
                             or lim.max_order_notional is not None)  # fmt: skip
        self.allow_short = lim.allow_short
        self.max_position = lim.max_position
        self.max_position_notional = lim.max_position_notional
        self.max_gross_exposure = lim.max_gross_exposure
        self.max_net_exposure = lim.max_net_exposure
        self.exposure = lim.max_gross_exposure is not None or lim.max_net_exposure is not None
        self.max_open_orders = lim.max_open_orders
        self.max_orders_per_minute = lim.max_orders_per_minute
        self.max_orders_per_day = lim.max_orders_per_day
        window = lim.duplicate_window_s
        self.duplicates = None if window is None else timedelta(seconds=window)
        self.rates = bool(lim.max_open_orders or lim.max_orders_per_minute
                          or lim.max_orders_per_day or lim.duplicate_window_s)  # fmt: skip
        # A strategy's price and time rules, with the account's folded in (the tighter wins).
        acct = lim if account is None else account.lim
        self.hash_intents = window is not None or acct.duplicate_window_s is not None
        self.collar = _tightest(lim.price_collar_pct, acct.price_collar_pct)
        self.atr_collar = _tightest(lim.price_collar_atr, acct.price_collar_atr)
        self.before_close = _tightest(lim.no_entries_before_close_min,
                                      acct.no_entries_before_close_min, largest=True)  # fmt: skip
        self.window = lim.session_only or acct.session_only or self.before_close is not None
        # symbol -> (session open, last entry time): the trading window, computed once a session
        self.entries_open: dict[str, tuple[datetime, datetime]] = {}


class RiskManager:
    def __init__(
        self,
        cfg: RiskConfig,
        journal: Journal,
        next_day: NextDay | None = None,
        *,
        strategies: Mapping[str, RiskLimits] | None = None,
        portfolio: Portfolio | None = None,
        orders: OpenOrders | None = None,
        infos: Mapping[str, SymbolInfo] | None = None,
    ) -> None:
        """``next_day(strategy_id, now)``: start of the strategy's next exchange trading day
        (``bot.strategy.context.next_trading_day`` over its contracts): daily holds last until
        then."""
        self.cfg = cfg
        self.journal = journal
        self._next_day = next_day
        self.portfolio = portfolio or Portfolio(UTC)
        self.orders: OpenOrders = orders or _NoOrders()
        self.infos: Mapping[str, SymbolInfo] = infos or {}
        self.states = RiskStates(journal)
        self.flatten: Flatten | None = None  # set by the engine: cancel + flatten a scope
        # IB's daily P&L of a strategy's symbols (None: the account's), for pnl_source: ib;
        # None where IB has no figure (the wiring sets Engine.ib_pnl_of)
        self.ib_pnl: Callable[[str | None], float | None] = lambda _sid: None
        self._ib_fallback: set[str | None] = set()
        self._external: set[str] = set()  # hold keys set from outside (pause_entries)
        self._waived: dict[tuple[str, str], datetime] = {}  # resumed daily holds: until when
        self._account = _Scope(ACCOUNT, cfg)
        self._scopes: dict[str, _Scope] = {
            sid: _Scope(sid, lim, self._account) for sid, lim in (strategies or {}).items()
        }
        every = [cfg, *(s.lim for s in self._scopes.values())]
        self._watch_pnl = any(
            lim.daily_loss_limit or lim.max_drawdown or lim.daily_profit_target
            or lim.halt_at for lim in every
        )  # fmt: skip
        self._watch_close = any(lim.flatten_before_close_min is not None for lim in every)
        self._drawdown = any(lim.max_drawdown for lim in every)
        self._watch_exposure = any(lim.max_gross_exposure or lim.max_net_exposure
                                   for lim in every)  # fmt: skip
        self._next_roll: datetime | None = None
        self._sessions: dict[str, tuple[datetime, datetime] | None] = {}
        self._flattened_close: set[tuple[str, str, datetime]] = set()
        # ATR(14) per symbol, of its first bar size seen, for price_collar_atr.
        self._atr: dict[str, tuple[int, Any, float]] | None = (
            {} if any(lim.price_collar_atr for lim in every) else None
        )
        self.portfolio.round_trip = self.on_round_trip

    def _scope(self, sid: str) -> _Scope:
        s = self._scopes.get(sid)
        if s is None:  # a strategy without its own limits (or adopted from another config)
            s = self._scopes[sid] = _Scope(sid, RiskLimits(), self._account)
        return s

    # ---- states -------------------------------------------------------------------------

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
        until = None if strategy_id is None else self._until(strategy_id, now)
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
        s = self._account if strategy_id is None else self._scope(strategy_id)
        s.losses = 0

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

    def _until(self, strategy_id: str | None, now: datetime) -> datetime:
        nxt = None
        if strategy_id is not None and self._next_day is not None:
            nxt = self._next_day(strategy_id, now)
        return nxt or self.portfolio.day_start(now) + timedelta(days=1)

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
    ) -> Decision:
        """None to approve, a (shrunk) intent to approve instead, else a journalled Rejection.

        ``working``: the strategy's working orders on the intent's symbol (the executor's
        ``working_orders``): same-side working quantity counts toward the position limits,
        ModifyOrder is checked against the order it modifies.
        """
        if isinstance(intent, KillSwitch):
            scope = None if intent.scope == "all" else strategy_id
            self.kill(intent.reason, strategy_id=scope, now=now)
            return None
        if isinstance(intent, CancelOrder):
            return None  # cancelling never adds risk, whatever the state
        decided = self._decide(strategy_id, intent, position, ref_price, now, working)
        if decided is None or not isinstance(decided, str):
            return decided
        rejection = Rejection(strategy_id, intent, decided, now)
        self.journal.record_rejection(rejection)
        log.warning("rejected %s for %s: %s", type(intent).__name__, strategy_id, decided)
        return rejection

    def own_order(self, strategy_id: str, intent: OrderIntent, now: datetime) -> None:
        """An order the bot sends on its own (flatten): never refused, always journalled."""
        reason = getattr(intent, "reason", "") or type(intent).__name__
        self.journal.record_risk_event("own_order", reason, now, strategy_id=strategy_id)
        _count(self._scope(strategy_id).scopes, now)

    def _decide(
        self, sid: str, intent: _Trade, position: float, ref: float, now: datetime,
        working: Mapping[str, WorkingOrder] | None,
    ) -> str | OrderIntent | None:  # fmt: skip
        spec, malformed = _as_spec(intent, position, working)
        if malformed is not None:
            return malformed
        if spec is None:
            return None  # nothing to trade (target already reached, a price change)
        symbol = intent.symbol
        sign = 1 if spec.action is _BUY else -1
        delta = sign * spec.quantity
        reduces = position * delta < 0 and abs(delta) <= abs(position) + _EPS
        st = self.states.effective(sid, now, symbol) if self.states else None
        if st is not None and st.level is not _ACTIVE:
            if st.level is _HALTED:
                return f"{sid} is HALTED ({st.reason}): only cancels are accepted"
            # A price change of a working order adds nothing: a stop can still be moved.
            if not reduces and spec.quantity != 0:
                return f"{sid} is REDUCING ({st.reason}): only orders that reduce the position"
        own = self._scopes.get(sid) or self._scope(sid)
        if spec.quantity == 0:  # a price change of a working order: the collar only
            return self._collar(own, symbol, intent, spec, ref)
        if (bad := _order_limits(own.scopes, symbol, spec, ref)) is not None:
            return bad
        why: str | TargetPosition | None = self._collar(own, symbol, intent, spec, ref)
        if why is None and not reduces:
            why = self._entries(own, symbol, spec, sign, position, ref, now, working,
                                isinstance(intent, TargetPosition))  # fmt: skip
        if isinstance(why, str):
            return why
        if why is not None:  # a shrunk target
            intent = why
        key = hash(intent) if own.hash_intents else 0
        if (rate := self._rates(own.scopes, intent, key, now)) is not None:
            return rate
        _count(own.scopes, now, intent, key)
        return why

    def _collar(self, own: _Scope, symbol: str, intent: OrderIntent, spec: OrderSpec,
                last: float) -> str | None:  # fmt: skip
        pct, n_atr = own.collar, own.atr_collar
        if pct is None and n_atr is None:
            return None
        if not last > 0:
            return f"price collar: no last price for {symbol} yet to check the order against"
        band, by_atr = (math.inf if pct is None else last * pct / 100.0), False
        atr = self._atr.get(symbol) if self._atr is not None else None
        if n_atr is not None and atr is not None and atr[2] == atr[2] and n_atr * atr[2] < band:
            band, by_atr = n_atr * atr[2], True
        off = _off_collar(spec, last, band)
        if off is None and isinstance(intent, PlaceBracket):
            off = (_off_collar(intent.take_profit, last, band)
                   or _off_collar(intent.stop_loss, last, band))  # fmt: skip
        if off is None:
            return None
        name, price = off
        shown = f"{n_atr:g} ATR = {band:.2f}" if by_atr else f"{pct:g}%"
        return (f"price collar: {name} price {price:.2f} is {(price - last) / last * 100.0:+.1f}% "
                f"from the last price {last:.2f} of {symbol} (collar {shown})")  # fmt: skip

    def observe_bar(self, bar: Bar) -> None:
        """Every closed bar, warm-up too: the ATR the collar uses (cheap when unused)."""
        atrs = self._atr
        if atrs is None:
            return
        seen = atrs.get(bar.symbol)
        if seen is None:
            seen = (bar.size_s, ATR(14).incremental(), math.nan)
        if seen[0] == bar.size_s:
            value = seen[1].update(bar.high, bar.low, bar.close, bar.volume)
            atrs[bar.symbol] = (seen[0], seen[1], float(value))

    def _entries(
        self, own: _Scope, symbol: str, spec: OrderSpec, sign: int, position: float, ref: float,
        now: datetime, working: Mapping[str, WorkingOrder] | None, is_target: bool,
    ) -> str | TargetPosition | None:  # fmt: skip
        """The checks only an order that adds exposure must pass; a TargetPosition over
        max_position comes back shrunk to it."""
        if own.window and (why := self._window(own, symbol, now)) is not None:
            return why
        qty = spec.quantity
        for s in own.scopes:
            held = position if s is own else self.portfolio.symbol_position(symbol)
            if not s.allow_short and held + sign * spec.quantity < -_EPS:
                return (f"short selling not allowed ({s.name}): {symbol} position {held:g} "
                        f"+ order {sign * spec.quantity:g}")  # fmt: skip
            cap, cap_value = s.max_position, s.max_position_notional
            if cap is None and cap_value is None:
                continue
            if s is not own:
                pending = _pending(self.orders.working_on(symbol), spec.action)
            else:
                pending = _pending(working.values(), spec.action) if working else 0.0
            level = held + sign * pending
            if cap is not None:
                room = cap - sign * level
                if qty > room + _EPS:
                    if not (is_target and room > _EPS):
                        return _position_text(cap, symbol, s, held, sign * pending,
                                              sign * spec.quantity)  # fmt: skip
                    qty = room
            if cap_value is not None:
                price = spec.limit_price or spec.stop_price or ref
                if not price > 0:
                    return f"max_position_notional: no price for {symbol} yet"
                value = abs(level + sign * qty) * price
                if value > cap_value + _EPS:
                    return (f"max_position_notional {cap_value:g} exceeded for {symbol} "
                            f"({s.name}): {abs(level + sign * qty):g} x {price:.2f} = "
                            f"{value:.2f}")  # fmt: skip
        if (why := self._exposure(own.scopes, symbol, sign * qty, ref)) is not None:
            return why
        if qty < spec.quantity - _EPS:
            base = position + _in_flight(working)
            target, asked = base + sign * qty, base + sign * spec.quantity
            self.journal.record_risk_event(
                "shrink", f"TargetPosition {symbol} {asked:g} -> {target:g}: max_position", now,
                strategy_id=own.id,
            )  # fmt: skip
            return TargetPosition(symbol, target, f"shrunk to max_position ({target:g})")
        return None

    def _exposure(self, scopes: tuple[_Scope, ...], symbol: str, delta: float,
                  ref: float) -> str | None:  # fmt: skip
        for s in scopes:
            if not s.exposure:
                continue
            if not ref > 0:
                return f"exposure limits: no price for {symbol} yet to value the order"
            gross, net = self.portfolio.valued_after(s.who, symbol, delta, ref)
            cap = s.max_gross_exposure
            if cap is not None and gross > cap + _EPS:
                return (f"max_gross_exposure {cap:g} exceeded ({s.name}): "
                        f"{gross:.2f} after the order on {symbol}")  # fmt: skip
            cap = s.max_net_exposure
            if cap is not None and abs(net) > cap + _EPS:
                return (f"max_net_exposure {cap:g} exceeded ({s.name}): "
                        f"{net:.2f} after the order on {symbol}")  # fmt: skip
        return None

    def _window(self, own: _Scope, symbol: str, now: datetime) -> str | None:
        open_ = own.entries_open.get(symbol)
        if open_ is not None and open_[0] <= now < open_[1]:
            return None  # inside the span cached below: no datetime work per decision
        info = self.infos.get(symbol)
        if info is None or not info.sessions:
            return None  # no trading hours known (e.g. a test contract): nothing to enforce
        session = self._session(info, now)
        if session is None:
            return f"trading window: {symbol} is outside its liquid hours at {now:%H:%M} UTC"
        before, end = own.before_close, session[1]
        if before is not None:
            last = end - timedelta(minutes=before)  # the last instant an entry is allowed
            if now > last:
                return (f"trading window: no new entries on {symbol} in the last {before:g} "
                        f"min before the close ({end:%H:%M} UTC)")  # fmt: skip
            end = last + _TICK
        own.entries_open[symbol] = (session[0], end)  # entries allowed in [open, end)
        return None

    def _session(self, info: SymbolInfo, now: datetime) -> tuple[datetime, datetime] | None:
        """The liquid session ``now`` falls in, if any (cached until it ends)."""
        cached = self._sessions.get(info.symbol)
        if cached is not None and cached[0] <= now < cached[1]:
            return cached
        found = liquid_session(info, now)
        self._sessions[info.symbol] = found
        return found

    def _rates(self, scopes: tuple[_Scope, ...], intent: OrderIntent, key: int,
               now: datetime) -> str | None:  # fmt: skip
        """Open orders, orders per minute and per day, duplicates: each scope's in turn."""
        cutoff = now - _MINUTE
        for s in scopes:
            if not s.rates:
                continue
            cap = s.max_open_orders
            if cap is not None and not isinstance(intent, ModifyOrder):
                n = self.orders.open_orders(s.who)
                if n >= cap:
                    return f"max_open_orders {cap} reached ({s.name}): {n} working"
            cap = s.max_orders_per_minute
            if cap:
                recent = s.recent
                while recent and recent[0] <= cutoff:
                    recent.popleft()
                if len(recent) >= cap:
                    return (f"max_orders_per_minute {cap} reached for {s.name}: {len(recent)} "
                            "in the last minute")  # fmt: skip
            cap = s.max_orders_per_day
            if cap is not None and s.day_orders >= cap:
                return f"max_orders_per_day {cap} reached ({s.name})"
            if s.duplicates is not None:
                seen = s.sent_intents.get(key)
                # the time test first: equality of two intents costs more than a comparison
                if seen is not None and now < seen[1] and seen[0] == intent:
                    ago = (now - seen[1] + s.duplicates).total_seconds()
                    return (f"duplicate of an intent {ago:.1f} s ago (duplicate_window_s "
                            f"{s.lim.duplicate_window_s:g})")  # fmt: skip
        return None

    # ---- a protective stop the broker refused ----------------------------------------

    def on_unprotected(self, strategy_id: str, symbol: str, ref: str, error: str,
                       quantity: float, now: datetime) -> None:  # fmt: skip
        """The broker rejected a protective stop (``ref``) and ``quantity`` of the strategy's
        ``symbol`` is left without one: ``unprotected`` (the strategy's, else the account's)
        says what follows; journalled and logged with the order and the broker's error."""
        policy = self._scope(strategy_id).lim.unprotected or self.cfg.unprotected or "flatten"
        then = {"flatten": "flattening it", "reduce": "entries on it paused",
                "alert": "left as it is (unprotected: alert)"}[policy]  # fmt: skip
        why = (f"protective stop {ref} rejected by the broker ({error}): {symbol} "
               f"{quantity:+g} of {strategy_id} unprotected; {then}")  # fmt: skip
        log.error("risk: %s", why)
        self.journal.record_risk_event("unprotected", why, now, strategy_id=strategy_id)
        if policy == "flatten" and self.flatten is not None:
            self.flatten(strategy_id, symbol, why)
        elif policy == "reduce":
            self.pause_entries("unprotected", why, now=now, strategy_id=strategy_id,
                               symbol=symbol, resumable=True)  # fmt: skip

    # ---- what P&L and the clock decide --------------------------------------------------

    def on_bar(self, symbol: str, now: datetime) -> None:
        """Each closed live bar: day counters, P&L limits, the close (cheap when unused)."""
        nxt = self._next_roll
        if nxt is None or now >= nxt:
            self._next_roll = self.portfolio.day_start(now) + timedelta(days=1)
            if nxt is not None:
                for s in (self._account, *self._scopes.values()):
                    s.day_orders = 0
        if self._watch_pnl:
            if self._drawdown:
                self.portfolio.sample_high(now)
            for s in (self._account, *self._scopes.values()):
                self._pnl_limits(s, now)
        if self._watch_close:
            self._close(symbol, now)
        if self._watch_exposure:
            self.portfolio.revalue(symbol)

    def on_tick(self, symbol: str, now: datetime) -> None:
        """Each live tick (where a strategy asked for ticks): the P&L limits between bars, so
        a tick-driven strategy's daily kill fires on the trade that reaches it."""
        if self._watch_pnl:
            for s in (self._account, *self._scopes.values()):
                self._pnl_limits(s, now)

    def _pnl_limits(self, s: _Scope, now: datetime) -> None:
        lim, pf = s.lim, self.portfolio
        who = None if s.id == ACCOUNT else s.id
        today = self._today(lim, who)
        if lim.daily_loss_limit is not None and today <= -lim.daily_loss_limit:
            self._limit_hit(s, "daily_loss", Level.REDUCING, now, lim.flatten_on_limit,
                            f"daily loss {today:.2f} reached daily_loss_limit "
                            f"{lim.daily_loss_limit:g}")  # fmt: skip
        if lim.max_drawdown is not None and pf.drawdown(who) >= lim.max_drawdown:
            self._limit_hit(s, "drawdown", Level.REDUCING, now, lim.flatten_on_limit,
                            f"drawdown {pf.drawdown(who):.2f} from the day's high "
                            f"{pf.day_high(who):.2f} reached max_drawdown {lim.max_drawdown:g}")
        if lim.daily_profit_target is not None and today >= lim.daily_profit_target:
            self._limit_hit(s, "profit_target", Level.HALTED, now, True,
                            f"daily profit {today:.2f} reached daily_profit_target "
                            f"{lim.daily_profit_target:g}")  # fmt: skip
        at = lim.halt_time
        if at is not None and self.infos:
            tz = next(iter(self.infos.values())).tz
            local = now.astimezone(tz)
            if local.time() >= at and local.weekday() < 5:
                self._limit_hit(s, "halt_at", Level.HALTED, now, True,
                                f"halt_at {lim.halt_at} exchange time")  # fmt: skip

    def _today(self, lim: RiskLimits, who: str | None) -> float:
        """Today's P&L of a scope as its ``pnl_source`` says: IB's (the sum of reqPnLSingle
        over its symbols) where IB has a figure, else the portfolio's (said once)."""
        if lim.pnl_source == "ib":
            ib = self.ib_pnl(who)
            if ib is not None:
                return ib
            if who not in self._ib_fallback:
                self._ib_fallback.add(who)
                log.info("risk: no daily P&L from IB for %s (yet): its limits read the bot's own",
                         scope_name(who or ACCOUNT))  # fmt: skip
        return self.portfolio.today(who)

    def _limit_hit(self, s: _Scope, key: str, level: Level, now: datetime, flatten: bool,
                   reason: str) -> None:  # fmt: skip
        if self.states.has(s.id, key):
            return
        waived = self._waived.get((s.id, key))
        if waived is not None and now < waived:
            return  # the operator resumed it for the rest of its day
        who = None if s.id == ACCOUNT else s.id
        self.states.hold(s.id, Hold(key, level, reason, self._until(who, now)), now)
        if flatten and self.flatten is not None:
            self.flatten(who, None, reason)

    def _close(self, symbol: str, now: datetime) -> None:
        info = self.infos.get(symbol)
        if info is None or not info.sessions:
            return
        session = self._session(info, now)
        if session is None:
            return
        pf = self.portfolio
        for s in (self._account, *self._scopes.values()):
            mins = s.lim.flatten_before_close_min
            if mins is None or session[1] - now > timedelta(minutes=mins):
                continue
            mark = (s.id, symbol, session[1])
            if mark in self._flattened_close:
                continue
            who = None if s.id == ACCOUNT else s.id
            held = pf.symbol_position(symbol) if who is None else pf.get(who, symbol)
            if abs(held) > _EPS and self.flatten is not None:
                self._flattened_close.add(mark)
                why = f"flatten_before_close_min {mins:g}: {symbol} closes {session[1]:%H:%M} UTC"
                self.journal.record_risk_event("flatten", why, now, strategy_id=who)
                self.flatten(who, symbol, why)

    def on_round_trip(self, strategy_id: str, symbol: str, pnl: float, now: datetime) -> None:
        """A position went flat (or flipped): count consecutive losers for the cooldowns."""
        for s in (self._scope(strategy_id), self._account):
            s.losses = s.losses + 1 if pnl < 0 else 0
            n = s.lim.cooldown_after_losses
            if n is not None and s.losses >= n:
                s.losses = 0
                until = now + timedelta(minutes=s.lim.cooldown_min)
                reason = f"cooldown {s.lim.cooldown_min:g} min after {n} losing round trips"
                self.states.hold(s.id, Hold("cooldown", Level.REDUCING, reason, until), now)


# ---- helpers -------------------------------------------------------------------------------


def _hold_key(key: str, symbol: str | None) -> str:
    return key if symbol is None else f"{key}:{symbol}"


def _allowed(lim: RiskLimits) -> frozenset[str] | None:
    allowed = frozenset(str(OrderType(t)) for t in lim.allowed_order_types)
    # All types allowed (the default): skip the check instead of a set lookup per intent.
    return None if len(allowed) == len(OrderType) else allowed


def _order_limits(scopes: tuple[_Scope, ...], symbol: str, spec: OrderSpec,
                  ref: float) -> str | None:  # fmt: skip
    """Allowed order types, max order quantity and notional: each scope's in turn."""
    for s in scopes:
        if not s.order_limits:
            continue
        allowed = s.allowed
        if allowed is not None and spec.order_type not in allowed:  # a StrEnum: a str
            names = ", ".join(sorted(allowed))
            where = "risk" if s.id == ACCOUNT else f"{s.id}'s risk"
            return (f"order type {spec.order_type} not allowed "
                    f"({where}.allowed_order_types: {names})")  # fmt: skip
        cap = s.max_order_quantity
        if cap is not None and spec.quantity > cap + _EPS:
            return (f"max_order_quantity {cap:g} exceeded for {symbol} ({s.name}): "
                    f"order {spec.quantity:g}")  # fmt: skip
        cap = s.max_order_notional
        if cap is None:
            continue
        price = spec.limit_price or spec.stop_price or ref
        if not price > 0:  # NaN too: an unpriced order cannot be shown to be under the cap
            return f"max_order_notional: no reference price for {symbol} yet to value the order"
        notional = spec.quantity * price
        if notional > cap:
            return (
                f"max_order_notional {cap:g} exceeded for {symbol}: "
                f"order {spec.quantity:g} x {price:.2f} = {notional:.2f}"
            )
    return None


def _off_collar(leg: OrderSpec | None, last: float, band: float) -> tuple[str, float] | None:
    """The leg's first price (limit, then stop) more than ``band`` from ``last``, named."""
    if leg is None:
        return None
    price = leg.limit_price
    if price is not None and abs(price - last) > band + _EPS:
        return "limit", price
    price = leg.stop_price
    if price is not None and abs(price - last) > band + _EPS:
        return "stop", price
    return None


def _count(scopes: tuple[_Scope, ...], now: datetime, intent: OrderIntent | None = None,
           key: int = 0) -> None:  # fmt: skip
    """One more order sent in each scope (``intent``: remembered for the duplicate test)."""
    for s in scopes:
        if s.max_orders_per_minute:
            s.recent.append(now)
        s.day_orders += 1
        if intent is not None and s.duplicates is not None:
            s.sent_intents[key] = (intent, now + s.duplicates)
            if len(s.sent_intents) > 1000:
                s.sent_intents = {k: v for k, v in s.sent_intents.items() if v[1] > now}


def _tightest(a: float | None, b: float | None, *, largest: bool = False) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b) if largest else min(a, b)


def _in_flight(working: Mapping[str, WorkingOrder] | None) -> float:
    return in_flight(working.values()) if working else 0  # no generator when there are none


def _pending(views: Iterable[WorkingOrder], action: Side) -> float:
    """Worst case: every same-side working order fills (exits on the other side may not)."""
    n = 0.0
    for w in views:  # a loop, not sum(genexpr): this runs per decision
        if w.spec.action is action and (left := w.spec.quantity - w.filled) > 0:
            n += left
    return n


def _position_text(cap: float, symbol: str, s: _Scope, held: float, pending: float,
                   order: float) -> str:  # fmt: skip
    shown = f"position {held:g}"
    if pending:
        shown += f" + working {pending:g}"
    where = "" if s.id != ACCOUNT else " (the account, all strategies)"
    return f"max_position {cap:g} exceeded for {symbol}{where}: {shown} + order {order:g}"


def _as_spec(intent: OrderIntent, position: float, working: Mapping[str, WorkingOrder] | None,
             ) -> tuple[OrderSpec | None, str | None]:  # fmt: skip
    """The order leg that adds exposure (the entry of a bracket), or why it is malformed."""
    if isinstance(intent, PlaceOrder):
        return intent.order, validate_spec(intent.order, intent.symbol)
    if isinstance(intent, PlaceBracket):
        return intent.entry, validate_bracket(intent)
    if isinstance(intent, TargetPosition):
        # The executor's own rule (bot/model/targets.py): target - position - in flight.
        spec = target_spec(intent.quantity, position, _in_flight(working))
        if spec is None:
            return None, None
        return spec, None
    if isinstance(intent, ModifyOrder):
        return _modified_spec(intent, working)
    return None, None


def _modified_spec(intent: ModifyOrder, working: Mapping[str, WorkingOrder] | None,
                   ) -> tuple[OrderSpec | None, str | None]:  # fmt: skip
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
    limit = intent.limit_price if intent.limit_price is not None else old.limit_price
    stop = intent.stop_price if intent.stop_price is not None else old.stop_price
    if extra <= 0:
        # A price change or a smaller order adds no exposure; its new price meets the collar.
        if limit == old.limit_price and stop == old.stop_price:
            return None, None
        return OrderSpec(old.action, 0.0, old.order_type, limit, stop), None
    return OrderSpec(old.action, extra, old.order_type, limit, stop), None
