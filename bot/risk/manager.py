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
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from bot.config.risk import RiskConfig, RiskLimits
from bot.journal.store import Journal
from bot.model.events import (
    Bar,
    CancelOrder,
    KillSwitch,
    ModifyOrder,
    OrderIntent,
    OrderSpec,
    PlaceBracket,
    PlaceOrder,
    Rejection,
    Side,
    TargetPosition,
    WorkingOrder,
)
from bot.portfolio.book import Portfolio
from bot.risk.day_limits import DayLimits, Flatten, IbPnl
from bot.risk.holds import NextDay, RiskHolds
from bot.risk.order_rules import (
    EPS,
    as_spec,
    count_sent,
    in_flight_of,
    off_collar,
    order_limits,
    pending_quantity,
    position_text,
)
from bot.risk.scope import Scope
from bot.risk.sessions import SessionCache
from bot.risk.states import ACCOUNT, Level
from bot.strategy.context import SymbolInfo
from bot.strategy.indicators import ATR

log = logging.getLogger(__name__)

_MINUTE = timedelta(minutes=1)
_TICK = timedelta(microseconds=1)  # datetime's resolution: t <= x  <=>  t < x + _TICK
# Enum members read once: on Python 3.11 each ``Side.BUY`` costs a descriptor call (~100 ns).
_BUY, _ACTIVE, _HALTED = Side.BUY, Level.ACTIVE, Level.HALTED

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


class RiskManager(RiskHolds):
    """The checks of each intent; the holds and states it reads are ``RiskHolds``' (the base),
    the limits P&L and the clock decide are ``DayLimits``'."""

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
        flatten: Flatten | None = None,
        ib_pnl: IbPnl | None = None,
    ) -> None:
        """``flatten(strategy or None, symbol or None, why)``: cancel and flatten a scope (a
        limit, the close, an unprotected position); ``ib_pnl(strategy or None)``: IB's daily
        P&L of a strategy's symbols (None: the account's) for ``pnl_source: ib``, None where
        IB has no figure."""
        super().__init__(journal, portfolio or Portfolio(UTC), next_day)
        self.cfg = cfg
        self.orders: OpenOrders = orders or _NoOrders()
        self.infos: Mapping[str, SymbolInfo] = infos or {}
        self._flatten = flatten
        self._account = Scope(ACCOUNT, cfg)
        self._scopes: dict[str, Scope] = {
            sid: Scope(sid, lim, self._account) for sid, lim in (strategies or {}).items()
        }
        self._sessions = SessionCache()
        self.day = DayLimits(
            cfg, self, self._scopes, self._account, journal=journal, infos=self.infos,
            sessions=self._sessions, flatten=flatten, ib_pnl=ib_pnl,
        )  # fmt: skip
        every = [cfg, *(s.lim for s in self._scopes.values())]
        # ATR(14) per symbol, of its first bar size seen, for price_collar_atr.
        self._atr: dict[str, tuple[int, Any, float]] | None = (
            {} if any(lim.price_collar_atr for lim in every) else None
        )
        self.portfolio.round_trip_event += self.on_round_trip

    def _scope(self, sid: str) -> Scope:
        s = self._scopes.get(sid)
        if s is None:  # a strategy without its own limits (or adopted from another config)
            s = self._scopes[sid] = Scope(sid, RiskLimits(), self._account)
        return s

    def resume(self, *, strategy_id: str | None, now: datetime, reason: str = "") -> None:
        """``RiskHolds.resume``, and the scope's run of losing round trips starts again."""
        super().resume(strategy_id=strategy_id, now=now, reason=reason)
        s = self._account if strategy_id is None else self._scope(strategy_id)
        s.losses = 0

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
        count_sent(self._scope(strategy_id).scopes, now)

    def _decide(
        self, sid: str, intent: _Trade, position: float, ref: float, now: datetime,
        working: Mapping[str, WorkingOrder] | None,
    ) -> str | OrderIntent | None:  # fmt: skip
        spec, malformed = as_spec(intent, position, working)
        if malformed is not None:
            return malformed
        if spec is None:
            return None  # nothing to trade (target already reached, a price change)
        symbol = intent.symbol
        sign = 1 if spec.action is _BUY else -1
        delta = sign * spec.quantity
        reduces = position * delta < 0 and abs(delta) <= abs(position) + EPS
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
        if (bad := order_limits(own.scopes, symbol, spec, ref)) is not None:
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
        count_sent(own.scopes, now, intent, key)
        return why

    def _collar(self, own: Scope, symbol: str, intent: OrderIntent, spec: OrderSpec,
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
        off = off_collar(spec, last, band)
        if off is None and isinstance(intent, PlaceBracket):
            off = (off_collar(intent.take_profit, last, band)
                   or off_collar(intent.stop_loss, last, band))  # fmt: skip
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
        self, own: Scope, symbol: str, spec: OrderSpec, sign: int, position: float, ref: float,
        now: datetime, working: Mapping[str, WorkingOrder] | None, is_target: bool,
    ) -> str | TargetPosition | None:  # fmt: skip
        """The checks only an order that adds exposure must pass; a TargetPosition over
        max_position comes back shrunk to it."""
        if own.window and (why := self._window(own, symbol, now)) is not None:
            return why
        qty = spec.quantity
        for s in own.scopes:
            held = position if s is own else self.portfolio.symbol_position(symbol)
            if not s.allow_short and held + sign * spec.quantity < -EPS:
                return (f"short selling not allowed ({s.name}): {symbol} position {held:g} "
                        f"+ order {sign * spec.quantity:g}")  # fmt: skip
            cap, cap_value = s.max_position, s.max_position_notional
            if cap is None and cap_value is None:
                continue
            if s is not own:
                pending = pending_quantity(self.orders.working_on(symbol), spec.action)
            else:
                pending = pending_quantity(working.values(), spec.action) if working else 0.0
            level = held + sign * pending
            if cap is not None:
                room = cap - sign * level
                if qty > room + EPS:
                    if not (is_target and room > EPS):
                        return position_text(cap, symbol, s, held, sign * pending,
                                              sign * spec.quantity)  # fmt: skip
                    qty = room
            if cap_value is not None:
                price = spec.limit_price or spec.stop_price or ref
                if not price > 0:
                    return f"max_position_notional: no price for {symbol} yet"
                value = abs(level + sign * qty) * price
                if value > cap_value + EPS:
                    return (f"max_position_notional {cap_value:g} exceeded for {symbol} "
                            f"({s.name}): {abs(level + sign * qty):g} x {price:.2f} = "
                            f"{value:.2f}")  # fmt: skip
        if (why := self._exposure(own.scopes, symbol, sign * qty, ref)) is not None:
            return why
        if qty < spec.quantity - EPS:
            base = position + in_flight_of(working)
            target, asked = base + sign * qty, base + sign * spec.quantity
            self.journal.record_risk_event(
                "shrink", f"TargetPosition {symbol} {asked:g} -> {target:g}: max_position", now,
                strategy_id=own.id,
            )  # fmt: skip
            return TargetPosition(symbol, target, f"shrunk to max_position ({target:g})")
        return None

    def _exposure(self, scopes: tuple[Scope, ...], symbol: str, delta: float,
                  ref: float) -> str | None:  # fmt: skip
        for s in scopes:
            if not s.exposure:
                continue
            if not ref > 0:
                return f"exposure limits: no price for {symbol} yet to value the order"
            gross, net = self.portfolio.valued_after(s.who, symbol, delta, ref)
            cap = s.max_gross_exposure
            if cap is not None and gross > cap + EPS:
                return (f"max_gross_exposure {cap:g} exceeded ({s.name}): "
                        f"{gross:.2f} after the order on {symbol}")  # fmt: skip
            cap = s.max_net_exposure
            if cap is not None and abs(net) > cap + EPS:
                return (f"max_net_exposure {cap:g} exceeded ({s.name}): "
                        f"{net:.2f} after the order on {symbol}")  # fmt: skip
        return None

    def _window(self, own: Scope, symbol: str, now: datetime) -> str | None:
        open_ = own.entries_open.get(symbol)
        if open_ is not None and open_[0] <= now < open_[1]:
            return None  # inside the span cached below: no datetime work per decision
        info = self.infos.get(symbol)
        if info is None or not info.sessions:
            return None  # no trading hours known (e.g. a test contract): nothing to enforce
        session = self._sessions.find(info, now)
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


    def _rates(self, scopes: tuple[Scope, ...], intent: OrderIntent, key: int,
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
        if policy == "flatten" and self._flatten is not None:
            self._flatten(strategy_id, symbol, why)
        elif policy == "reduce":
            self.pause_entries("unprotected", why, now=now, strategy_id=strategy_id,
                               symbol=symbol, resumable=True)  # fmt: skip

    # ---- what P&L and the clock decide (bot/risk/day_limits.py) ------------------------

    def on_bar(self, symbol: str, now: datetime) -> None:
        """Each closed live bar: day counters, P&L limits, the close (cheap when unused)."""
        self.day.on_bar(symbol, now)

    def on_tick(self, symbol: str, now: datetime) -> None:
        """Each live tick: the P&L limits between bars."""
        self.day.on_tick(symbol, now)

    def on_round_trip(self, strategy_id: str, symbol: str, pnl: float, now: datetime) -> None:
        """A position went flat (or flipped): the cooldowns count losers."""
        self.day.on_round_trip(self._scope(strategy_id), pnl, now)
