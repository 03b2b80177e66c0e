"""What P&L and the clock decide, each closed bar (and tick): day counters, daily loss and
drawdown (-> REDUCING, optionally flatten), daily profit target and ``halt_at`` (-> flatten,
HALTED for the day), flatten before the close, and the cooldowns after losing round trips."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta

from bot.config.risk import RiskConfig, RiskLimits
from bot.journal.store import Journal
from bot.risk.holds import RiskHolds
from bot.risk.order_rules import EPS
from bot.risk.scope import Scope
from bot.risk.sessions import SessionCache
from bot.risk.states import ACCOUNT, Hold, Level, scope_name
from bot.strategy.context import SymbolInfo

log = logging.getLogger(__name__)

Flatten = Callable[[str | None, str | None, str], None]  # (strategy or None, symbol or None, why)
IbPnl = Callable[[str | None], float | None]  # IB's daily P&L of a strategy (None: the account)


class DayLimits:
    """The risk limits no intent triggers (bot/risk/manager.py checks intents)."""

    def __init__(
        self, cfg: RiskConfig, holds: RiskHolds, scopes: Mapping[str, Scope], account: Scope,
        *, journal: Journal, infos: Mapping[str, SymbolInfo], sessions: SessionCache,
        flatten: Flatten | None, ib_pnl: IbPnl | None,
    ) -> None:  # fmt: skip
        """``scopes``: the strategies' (a live view: the manager adds unknown ones lazily)."""
        self._holds, self._scopes, self._account = holds, scopes, account
        self._journal, self._infos, self._sessions = journal, infos, sessions
        self._flatten, self._ib_pnl = flatten, ib_pnl
        self._ib_fallback: set[str | None] = set()
        self._next_roll: datetime | None = None
        self._flattened_close: set[tuple[str, str, datetime]] = set()
        every = [cfg, *(s.lim for s in scopes.values())]
        self._watch_pnl = any(
            lim.daily_loss_limit or lim.max_drawdown or lim.daily_profit_target
            or lim.halt_at for lim in every
        )  # fmt: skip
        self._watch_close = any(lim.flatten_before_close_min is not None for lim in every)
        self._drawdown = any(lim.max_drawdown for lim in every)
        self._watch_exposure = any(lim.max_gross_exposure or lim.max_net_exposure
                                   for lim in every)  # fmt: skip

    def on_bar(self, symbol: str, now: datetime) -> None:
        """Each closed live bar: day counters, P&L limits, the close (cheap when unused)."""
        pf = self._holds.portfolio
        nxt = self._next_roll
        if nxt is None or now >= nxt:
            self._next_roll = pf.day_start(now) + timedelta(days=1)
            if nxt is not None:
                for s in (self._account, *self._scopes.values()):
                    s.day_orders = 0
        if self._watch_pnl:
            if self._drawdown:
                pf.sample_high(now)
            for s in (self._account, *self._scopes.values()):
                self._pnl_limits(s, now)
        if self._watch_close:
            self._close(symbol, now)
        if self._watch_exposure:
            pf.revalue(symbol)

    def on_tick(self, symbol: str, now: datetime) -> None:
        """Each live tick (where a strategy asked for ticks): the P&L limits between bars, so
        a tick-driven strategy's daily kill fires on the trade that reaches it."""
        if self._watch_pnl:
            for s in (self._account, *self._scopes.values()):
                self._pnl_limits(s, now)

    def on_round_trip(self, own: Scope, pnl: float, now: datetime) -> None:
        """A position went flat (or flipped): count consecutive losers for the cooldowns."""
        for s in (own, self._account):
            s.losses = s.losses + 1 if pnl < 0 else 0
            n = s.lim.cooldown_after_losses
            if n is not None and s.losses >= n:
                s.losses = 0
                until = now + timedelta(minutes=s.lim.cooldown_min)
                reason = f"cooldown {s.lim.cooldown_min:g} min after {n} losing round trips"
                self._holds.states.hold(s.id, Hold("cooldown", Level.REDUCING, reason, until), now)

    def _pnl_limits(self, s: Scope, now: datetime) -> None:
        lim, pf = s.lim, self._holds.portfolio
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
        if at is not None and self._infos:
            tz = next(iter(self._infos.values())).tz
            local = now.astimezone(tz)
            if local.time() >= at and local.weekday() < 5:
                self._limit_hit(s, "halt_at", Level.HALTED, now, True,
                                f"halt_at {lim.halt_at} exchange time")  # fmt: skip

    def _today(self, lim: RiskLimits, who: str | None) -> float:
        """Today's P&L of a scope as its ``pnl_source`` says: IB's (the sum of reqPnLSingle
        over its symbols) where IB has a figure, else the portfolio's (said once)."""
        if lim.pnl_source == "ib":
            ib = self._ib_pnl(who) if self._ib_pnl is not None else None
            if ib is not None:
                return ib
            if who not in self._ib_fallback:
                self._ib_fallback.add(who)
                log.info("risk: no daily P&L from IB for %s (yet): its limits read the bot's own",
                         scope_name(who or ACCOUNT))  # fmt: skip
        return self._holds.portfolio.today(who)

    def _limit_hit(self, s: Scope, key: str, level: Level, now: datetime, flatten: bool,
                   reason: str) -> None:  # fmt: skip
        holds = self._holds
        if holds.states.has(s.id, key) or holds.waived(s.id, key, now):
            return  # held already, or the operator resumed it for the rest of its day
        who = None if s.id == ACCOUNT else s.id
        holds.states.hold(s.id, Hold(key, level, reason, holds.until(who, now)), now)
        if flatten and self._flatten is not None:
            self._flatten(who, None, reason)

    def _close(self, symbol: str, now: datetime) -> None:
        info = self._infos.get(symbol)
        if info is None or not info.sessions:
            return
        session = self._sessions.find(info, now)
        if session is None:
            return
        pf = self._holds.portfolio
        for s in (self._account, *self._scopes.values()):
            mins = s.lim.flatten_before_close_min
            if mins is None or session[1] - now > timedelta(minutes=mins):
                continue
            mark = (s.id, symbol, session[1])
            if mark in self._flattened_close:
                continue
            who = None if s.id == ACCOUNT else s.id
            held = pf.symbol_position(symbol) if who is None else pf.get(who, symbol)
            if abs(held) > EPS and self._flatten is not None:
                self._flattened_close.add(mark)
                why = f"flatten_before_close_min {mins:g}: {symbol} closes {session[1]:%H:%M} UTC"
                self._journal.record_risk_event("flatten", why, now, strategy_id=who)
                self._flatten(who, symbol, why)
