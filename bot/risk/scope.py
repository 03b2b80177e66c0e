"""One risk scope (a strategy, or the account): its limits resolved once, and its counters."""

from __future__ import annotations

from collections import deque
from datetime import datetime, timedelta

from bot.config.risk import RiskLimits
from bot.model.events import OrderIntent, OrderType
from bot.risk.states import ACCOUNT, scope_name


class Scope:
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

    def __init__(self, scope_id: str, lim: RiskLimits, account: Scope | None = None) -> None:
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



def _allowed(lim: RiskLimits) -> frozenset[str] | None:
    allowed = frozenset(str(OrderType(t)) for t in lim.allowed_order_types)
    # All types allowed (the default): skip the check instead of a set lookup per intent.
    return None if len(allowed) == len(OrderType) else allowed



def _tightest(a: float | None, b: float | None, *, largest: bool = False) -> float | None:
    if a is None:
        return b
    if b is None:
        return a
    return max(a, b) if largest else min(a, b)

