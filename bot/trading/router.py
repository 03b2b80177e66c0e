"""The engine: where a bar goes after the feed, and where an intent goes after a strategy.

    feed ── Bar ──▶ IndicatorSet (per symbol and bar spec) ──▶ each strategy's on_bar
                                                                   │ OrderIntent
         executor.fill_event ──▶ the owning strategy's on_fill ────┤
                                                                   ▼
                                RiskManager.check ──▶ OrderExecutor.submit (or a Rejection)

Everything here runs synchronously inside the ib_insync callback that delivered the event, so
per-symbol order is the socket's order and a bar's orders are on the wire before the next
message is read. A strategy that raises is logged with its id and the event, and disabled (or
not: ``on_error: continue``); the others go on. Warm-up bars update indicators and nothing else.
The connection, subscriptions and shutdown live in ``bot/live/daemon.py``.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from bot.market_data.streams import StreamKey
from bot.model.events import (
    Bar,
    CancelOrder,
    FillEvent,
    KillSwitch,
    ModifyOrder,
    OrderIntent,
    PlaceBracket,
    PlaceOrder,
    Rejection,
    TargetPosition,
    Tick,
    WorkingOrder,
)
from bot.portfolio.book import Portfolio
from bot.ports.venue import BarSource as Feed
from bot.risk.states import EntryPauses
from bot.runtime.logs import log_context
from bot.strategy.api import Strategy
from bot.strategy.context import EngineContext, SizingLike, SymbolInfo
from bot.strategy.indicators import IndicatorSet

log = logging.getLogger(__name__)

_ACCEPTED = frozenset({"PreSubmitted", "Submitted", "Filled"})
REJECT_STORM = "reject storm"  # the risk hold a run of broker rejections sets
INDICATOR_HISTORY = 5  # values kept per indicator: strategies may look up to 4 bars back


class TickKindConflict(ValueError):
    """Two strategies want different kinds of ticks on one symbol (bad input: a config fix)."""


class Clock:
    """Event time: the end of the newest bar, or the newest tick. Never goes back."""

    __slots__ = ("t",)

    def __init__(self, start: datetime) -> None:
        self.t = start

    def now(self) -> datetime:
        return self.t

    def advance(self, t: datetime) -> None:
        if t > self.t:
            self.t = t


class Risk(EntryPauses, Protocol):
    def check(
        self,
        strategy_id: str,
        intent: OrderIntent,
        *,
        position: float,
        ref_price: float,
        now: datetime,
        working: Mapping[str, WorkingOrder] | None = None,
    ) -> Rejection | OrderIntent | None:
        """None: approved; an intent: approved as this one (shrunk); a Rejection."""
        ...

    def kill(self, reason: str, *, strategy_id: str | None, now: datetime) -> None: ...

    def on_bar(self, symbol: str, now: datetime) -> None:
        """Each closed live bar: the limits P&L and the clock decide (bot/risk/manager.py)."""
        ...

    def observe_bar(self, bar: Bar) -> None:
        """Each closed bar, warm-up included (the ATR of the price collar)."""
        ...

    def on_tick(self, symbol: str, now: datetime) -> None:
        """Each live tick: the P&L limits between bars."""
        ...


class Executor(Protocol):
    def position(self, strategy_id: str, symbol: str) -> float: ...
    def working_orders(self, strategy_id: str, symbol: str) -> Mapping[str, WorkingOrder]: ...
    def submit(self, strategy_id: str, intent: OrderIntent, *, ref_price: float) -> None: ...
    def update_bar(
        self, symbol: str, open_: float, high: float, low: float, close: float, time: datetime
    ) -> None:
        """Each closed bar (``time``: its end): the last price, and in a dry run the path
        resting orders are matched against."""
        ...

    def commission(self, strategy_id: str) -> float: ...
    def flatten(self, strategy_id: str | None = None, symbol: str | None = None) -> None: ...


class Observer(Protocol):
    """Who watches the engine's events (bot/ops: metrics, notifications, feed freshness).
    Called synchronously on the event path: implementations must be cheap and never raise."""

    def bar(self, key: StreamKey, bar: Bar, live: bool) -> None: ...

    def order(self, strategy_id: str, intent: OrderIntent, bar_latency_s: float | None) -> None:
        """An approved intent handed to the executor; ``bar_latency_s``: wall seconds since
        the bar that caused it reached the engine (None: not caused by a bar)."""

    def rejection(self, rejection: Rejection) -> None: ...

    def fill(self, strategy_id: str, fill: FillEvent) -> None: ...


class TickSpecLike(Protocol):
    @property
    def tick_by_tick(self) -> str | None: ...


class StrategySettings(Protocol):
    """The fields of ``bot.config.strategies.StrategyConfig`` the engine reads."""

    @property
    def id(self) -> str: ...
    @property
    def symbols(self) -> list[str]: ...
    @property
    def sizing(self) -> SizingLike: ...
    @property
    def on_error(self) -> Literal["disable", "continue"]: ...
    @property
    def ticks(self) -> bool | TickSpecLike | None: ...


@dataclass(eq=False)
class Slot:
    """One running strategy instance and its bookkeeping."""

    id: str
    strategy: Strategy[Any]
    ctx: EngineContext
    symbols: frozenset[str]
    on_error: str
    wants_ticks: bool = False
    tick_by_tick: str | None = None  # its reqTickByTickData type; None: market data
    bar_spec: Any = None  # its bot.config.bars.BarSpec, once attached to a feed
    enabled: bool = True
    errors: int = 0
    bars: int = 0
    intents: int = 0
    fills: int = 0
    rejections: int = 0
    in_rejection: bool = False
    broker_rejections_in_a_row: int = 0  # reset by a fill or an accepted order


@dataclass
class Counters:
    orders: int = 0  # intents approved and handed to the executor (all time)
    orders_today: int = 0
    rejections: int = 0
    fills: int = 0
    strategy_errors: int = 0
    bars: int = 0
    ticks: int = 0
    kills: list[str] = field(default_factory=list)


class Engine:
    """Routes events to strategies and their intents through risk to the executor."""

    def __init__(
        self,
        *,
        risk: Risk,
        executor: Executor,
        infos: Mapping[str, SymbolInfo],
        clock: Clock,
        prices: Mapping[str, float],
        pnl: Portfolio,
        net_liquidation: Callable[[], float | None] = lambda: None,
        journal_event: Callable[..., None] | None = None,
        reject_storm: int = 5,
    ) -> None:
        """``reject_storm``: this many broker rejections of one strategy's orders in a row
        pause its entries: a REDUCING hold of the strategy ("reject storm", journalled and
        restored at restart) until the operator's ``ibbot resume --strategy``."""
        self.risk = risk
        self.executor = executor
        self.infos = infos
        self.clock = clock
        self.prices = prices
        self.pnl = pnl
        self.net_liquidation = net_liquidation
        self.journal_event = journal_event
        self.reject_storm = reject_storm
        self.slots: dict[str, Slot] = {}
        self.counters = Counters()
        self._routes: dict[StreamKey, list[Slot]] = {}
        self._sets: dict[StreamKey, IndicatorSet] = {}
        self._tick_routes: dict[str, list[Slot]] = {}
        self._last_close: dict[str, float] = {}
        # IB's daily P&L over some symbols (bot.live.ib_pnl), set by the daemon once connected;
        # None where there is none (a backtest) or not yet.
        self.ib_pnl: Callable[[Iterable[str]], float | None] = lambda _symbols: None
        self.observer: Observer | None = None
        self._bar_t0 = 0.0  # perf_counter() when the live bar being handled arrived; 0: none

    def ib_pnl_of(self, strategy_id: str | None) -> float | None:
        """IB's daily P&L over a strategy's symbols (None: every strategy's), for the risk
        stage's ``pnl_source: ib``; None where IB has no figure."""
        slots = self.slots.values() if strategy_id is None else (
            [self.slots[strategy_id]] if strategy_id in self.slots else [])  # fmt: skip
        symbols = {sym for slot in slots for sym in slot.symbols}
        return self.ib_pnl(symbols) if symbols else None

    # ---- building -----------------------------------------------------------------------

    def add_strategy(
        self, settings: StrategySettings, cls: type[Strategy[Any]], params: BaseModel
    ) -> Slot:
        symbols = tuple(settings.symbols)
        ctx = EngineContext(
            settings.id,
            symbols,
            orders=self.executor,
            infos=self.infos,
            sizing=settings.sizing,
            clock=self.clock.now,
            net_liquidation=self.net_liquidation,
            pnl=self.pnl,
            ib_pnl=lambda symbols: self.ib_pnl(symbols),
        )
        strategy = cls(ctx, params)
        ticks = settings.ticks  # a spec (true: market data) wins over the strategy's preference
        if ticks is None or isinstance(ticks, bool):
            tbt = strategy.tick_type()
        else:
            tbt = ticks.tick_by_tick
        wants_ticks = bool(ticks) or strategy.wants_ticks()
        slot = Slot(settings.id, strategy, ctx, frozenset(symbols), settings.on_error, wants_ticks,
                    tbt)  # fmt: skip
        self.slots[settings.id] = slot
        return slot

    def attach(self, feed: Feed, strategy_id: str, bars: Any) -> None:
        """Declare a strategy's bar streams (and ticks) on ``feed``; ``bars`` is its
        ``bot.config.bars.BarSpec``. The strategy gets the IndicatorSet of each of its (symbol,
        bar spec) streams, shared with every strategy reading the same stream."""
        slot = self.slots[strategy_id]
        slot.bar_spec = bars
        sets: dict[str, IndicatorSet] = {}
        for symbol in slot.ctx.symbols:
            _, sets[symbol] = self._attach_symbol(feed, slot, symbol)
        slot.ctx.bind_indicators(dict(slot.strategy.indicators()), sets)

    def _attach_symbol(self, feed: Feed, slot: Slot, symbol: str) -> tuple[StreamKey, IndicatorSet]:
        bars, info = slot.bar_spec, self.infos[symbol]
        key = feed.add_bars(
            symbol,
            info.contract,
            info.tz,
            bar_size=bars.size,
            size_s=bars.size_s,
            what_to_show=bars.what_to_show,
            use_rth=bars.use_rth,
            warmup=bars.warmup,
            source=bars.source,
        )
        self._routes.setdefault(key, []).append(slot)
        iset = self._sets.get(key)
        if iset is None:
            iset = self._sets[key] = IndicatorSet()
        for ind in slot.strategy.indicators().values():
            iset.add(ind, history=INDICATOR_HISTORY)
        if slot.wants_ticks:
            self._add_ticks(feed, slot, symbol)
        return key, iset

    def _add_ticks(self, feed: Feed, slot: Slot, symbol: str) -> None:
        """One tick subscription per symbol, so every strategy reading it must want the same
        kind (IB would send a second kind on the same ticker, mixed)."""
        routes = self._tick_routes.setdefault(symbol, [])
        if routes and routes[0].tick_by_tick != slot.tick_by_tick:
            raise TickKindConflict(
                f"{slot.id}: ticks on {symbol} as {_tick_kind(slot.tick_by_tick)}, but "
                f"{routes[0].id} reads them as {_tick_kind(routes[0].tick_by_tick)}; strategies "
                f"sharing a symbol must ask for the same ticks"
            )
        if slot.tick_by_tick is None:
            feed.add_ticks(symbol, self.infos[symbol].contract)
        else:
            feed.add_tick_by_tick(symbol, self.infos[symbol].contract, slot.tick_by_tick)
        routes.append(slot)

    def set_symbols(self, feed: Feed, strategy_id: str, symbols: Iterable[str]) -> list[StreamKey]:
        """Make ``symbols`` (qualified, in ``infos``) the strategy's symbols from now on: new
        ones get their streams declared (returned: the feed still has to start them, whose
        warm-up reaches the strategy as warm-up bars), dropped ones leave its routes, and
        streams and ticks nobody reads any more are removed from the feed."""
        slot = self.slots[strategy_id]
        wanted = tuple(dict.fromkeys(symbols))
        old = set(slot.ctx.symbols)
        sets = slot.ctx.indicator_sets()
        for symbol in old - set(wanted):
            self._detach_symbol(feed, slot, symbol)
            sets.pop(symbol, None)
        new_keys = []
        for symbol in wanted:
            if symbol in old:
                continue
            before = set(feed.streams)
            key, sets[symbol] = self._attach_symbol(feed, slot, symbol)
            if key not in before:  # else another strategy's live stream: shared as it is
                new_keys.append(key)
        slot.symbols = frozenset(wanted)
        slot.ctx.set_symbols(wanted, sets)
        return new_keys

    def _detach_symbol(self, feed: Feed, slot: Slot, symbol: str) -> None:
        for key in [k for k, slots in self._routes.items() if k.symbol == symbol]:
            slots = self._routes[key]
            if slot in slots:
                slots.remove(slot)
            if not slots:
                del self._routes[key]
                self._sets.pop(key, None)
                feed.remove_bars(key)
        ticks = self._tick_routes.get(symbol)
        if ticks is not None and slot in ticks:
            ticks.remove(slot)
            if not ticks:
                del self._tick_routes[symbol]
                feed.remove_ticks(symbol)

    # ---- events in ----------------------------------------------------------------------

    def on_bar(self, key: StreamKey, bar: Bar, live: bool) -> None:
        """A closed bar from the feed; ``live=False`` is warm-up (indicators only)."""
        t0 = time.perf_counter()
        end = bar.end
        self.clock.advance(end)
        self._sets[key].on_bar(bar)
        symbol = bar.symbol
        self._last_close[symbol] = bar.close
        self.executor.update_bar(symbol, bar.open, bar.high, bar.low, bar.close, end)
        self.risk.observe_bar(bar)
        if self.observer is not None:
            self.observer.bar(key, bar, live)
        if not live:
            self._warm_up(key, bar)
            return
        if self.pnl.roll(end):
            self.counters.orders_today = 0
        self.risk.on_bar(symbol, end)
        self.counters.bars += 1
        self._bar_t0 = t0
        try:
            for slot in self._routes[key]:
                if slot.enabled:
                    slot.bars += 1
                    self._call(slot, slot.strategy.on_bar, bar, "bar")
        finally:
            self._bar_t0 = 0.0

    def _warm_up(self, key: StreamKey, bar: Bar) -> None:
        """A warm-up bar (or one replayed after a reconnect): strategies keep state, no intents."""
        for slot in self._routes[key]:
            if slot.enabled:
                try:
                    slot.strategy.on_warmup_bar(bar)
                except Exception:
                    self._failed(slot, "warm-up bar", bar)

    def on_tick(self, tick: Tick) -> None:
        self.clock.advance(tick.time)
        self.counters.ticks += 1
        if self.pnl.roll(tick.time):
            self.counters.orders_today = 0
        self.risk.on_tick(tick.symbol, tick.time)
        for slot in self._tick_routes.get(tick.symbol, ()):
            if slot.enabled:
                self._call(slot, slot.strategy.on_tick, tick, "tick")

    def on_fill(self, strategy_id: str, fill: FillEvent) -> None:
        """The executor's ``fill_event`` (already in the portfolio): tell the owning strategy."""
        self.counters.fills += 1
        if self.observer is not None:
            self.observer.fill(strategy_id, fill)
        log.info(
            "FILL  %s %s %s %g @ %s [%s] %s",
            strategy_id, fill.symbol, fill.side, fill.quantity, _num(fill.price), fill.tag,
            fill.exec_id,
        )  # fmt: skip
        slot = self.slots.get(strategy_id)
        if slot is None:  # adopted from an earlier run with another config
            return
        slot.fills += 1
        slot.broker_rejections_in_a_row = 0
        if slot.enabled:
            self._call(slot, slot.strategy.on_fill, fill, "fill")

    def on_rejection(self, rejection: Rejection) -> None:
        """A refusal (the risk stage's, the executor's, IB's): counted, told to the strategy."""
        self.counters.rejections += 1
        slot = self.slots.get(rejection.strategy_id)
        if slot is not None:
            slot.rejections += 1
            if slot.enabled and not slot.in_rejection:
                # Not re-entered: an answer that is refused again is not answered again.
                slot.in_rejection = True
                try:
                    self._call(slot, slot.strategy.on_rejection, rejection, "rejection")
                finally:
                    slot.in_rejection = False
        if self.observer is not None:
            self.observer.rejection(rejection)

    def on_broker_rejection(self, rejection: Rejection) -> None:
        """The executor's ``rejection_event`` (its refusals, the broker's rejections): a run of
        ``reject_storm`` in a row pauses the strategy's entries; then as any rejection."""
        slot = self.slots.get(rejection.strategy_id)
        if slot is not None:
            slot.broker_rejections_in_a_row += 1
            if slot.broker_rejections_in_a_row >= self.reject_storm:
                detail = (f"{slot.broker_rejections_in_a_row} broker rejections in a row, the "
                          f"last: {rejection.reason}")  # fmt: skip
                if self.risk.pause_entries(REJECT_STORM, f"{REJECT_STORM}: {detail}",
                                           now=self.clock.now(), strategy_id=slot.id,
                                           resumable=True):  # fmt: skip
                    self._journal("reject_storm", f"{slot.id}: entries paused: {detail}", slot.id)
        self.on_rejection(rejection)

    def on_order(self, strategy_id: str, order: WorkingOrder) -> None:
        """The executor's ``order_event``: an order the broker accepted ends a reject run."""
        if order.status in _ACCEPTED:
            slot = self.slots.get(strategy_id)
            if slot is not None:
                slot.broker_rejections_in_a_row = 0

    def _journal(self, kind: str, message: str, strategy_id: str | None = None) -> None:
        if self.journal_event is not None:
            self.journal_event(kind, message, self.clock.now(), strategy_id=strategy_id)

    # ---- strategy calls ---------------------------------------------------------------------

    def start_strategies(self) -> None:
        for slot in self.slots.values():
            if slot.enabled:
                self._call(slot, _no_arg(slot.strategy.on_start), None, "start")

    def stop_strategies(self) -> None:
        for slot in self.slots.values():
            if slot.enabled:
                self._call(slot, _no_arg(slot.strategy.on_stop), None, "stop")

    def _call(self, slot: Slot, handler: Callable[[Any], Iterable[OrderIntent] | None],
              event: Any, what: str) -> None:  # fmt: skip
        # Log lines written meanwhile (risk, executor) carry the strategy and the symbol.
        with log_context(slot.id, getattr(event, "symbol", None)):
            try:
                intents = handler(event)
                if not intents:
                    return
                todo = list(intents)  # a generator's body runs here, inside the try
            except Exception:
                self._failed(slot, what, event)
                return
            for intent in todo:
                self.dispatch(slot, intent)

    def _failed(self, slot: Slot, what: str, event: Any) -> None:
        slot.errors += 1
        self.counters.strategy_errors += 1
        action = "disabled" if slot.on_error == "disable" else "continuing (on_error: continue)"
        log.exception("strategy %s raised on %s %s; %s", slot.id, what, event, action)
        if slot.on_error == "disable":
            slot.enabled = False
        if self.journal_event is not None:
            self.journal_event(
                "strategy_error", f"{slot.id} raised on {what}: {action}", self.clock.now(),
                strategy_id=slot.id, data=repr(event),
            )  # fmt: skip

    # ---- intents out --------------------------------------------------------------------

    def dispatch(self, slot: Slot, intent: OrderIntent) -> None:
        """One intent: the kill switch, or RiskManager.check then OrderExecutor.submit."""
        sid = slot.id
        slot.intents += 1
        now = self.clock.now()
        if isinstance(intent, KillSwitch):
            self.kill(intent, sid)
            return
        symbol = intent.symbol
        if symbol not in slot.symbols:
            log.warning("%s: %s is not one of its symbols; %s ignored", sid, symbol, intent)
            self.counters.rejections += 1
            slot.rejections += 1
            return
        ref = self.ref_price(symbol)
        position = self.executor.position(sid, symbol)
        decision = self.risk.check(
            sid,
            intent,
            position=position,
            ref_price=ref,
            now=now,
            working=self.executor.working_orders(sid, symbol),
        )
        if decision is not None:
            if isinstance(decision, Rejection):
                self.on_rejection(decision)
                return
            intent = decision  # approved as the risk stage shrank it
        self.executor.submit(sid, intent, ref_price=ref)
        if self.observer is not None:
            t0 = self._bar_t0
            self.observer.order(sid, intent, time.perf_counter() - t0 if t0 else None)
        # Counted and logged after submit: the order is on the wire first.
        if not isinstance(intent, CancelOrder):
            self.counters.orders += 1
            self.counters.orders_today += 1
        if log.isEnabledFor(logging.INFO):
            log.info("ORDER %s %s", sid, describe(intent))

    def kill(self, intent: KillSwitch, strategy_id: str | None) -> None:
        """Halt (one strategy or all), cancel working orders and flatten: risk then executor."""
        scope = None if intent.scope == "all" or strategy_id is None else strategy_id
        self.counters.kills.append(f"{scope or 'all'}: {intent.reason}")
        self.risk.kill(intent.reason, strategy_id=scope, now=self.clock.now())
        self.executor.submit(strategy_id or "operator", intent, ref_price=math.nan)

    def flatten(self, strategy_id: str | None, symbol: str | None, reason: str) -> None:
        """The risk stage's flatten (a limit, the close): one scope, one symbol or all."""
        log.warning("flatten %s%s: %s", strategy_id or "all strategies",
                    f" on {symbol}" if symbol else "", reason)  # fmt: skip
        self.executor.flatten(strategy_id, symbol)

    def ref_price(self, symbol: str) -> float:
        """Freshest price known: the feed's last 5-second bar or tick, else the last close."""
        p = self.prices.get(symbol)
        if p is None or math.isnan(p):
            return self._last_close.get(symbol, math.nan)
        return p

    # ---- figures ------------------------------------------------------------------------

    def positions(self) -> dict[str, float]:
        """Net position per symbol over all strategies."""
        return self.pnl.by_symbol()

    def pnl_today(self) -> float:
        return self.pnl.today()

    def pnl_total(self) -> float:
        return self.pnl.total()


def _no_arg(fn: Callable[[], Iterable[OrderIntent]]) -> Callable[[Any], Iterable[OrderIntent]]:
    return lambda _: fn()


def describe(intent: OrderIntent) -> str:
    """One line for the log: "AAPL BUY 10 MKT [entry] (reason)"."""
    if isinstance(intent, PlaceOrder):
        text = f"{intent.symbol} {_spec(intent.order)} [{intent.tag}]"
    elif isinstance(intent, PlaceBracket):
        legs = [_spec(intent.entry)]
        if intent.take_profit is not None:
            legs.append(f"tp {_spec(intent.take_profit)}")
        if intent.stop_loss is not None:
            legs.append(f"sl {_spec(intent.stop_loss)}")
        text = f"{intent.symbol} bracket {' / '.join(legs)} [{intent.tag}]"
    elif isinstance(intent, ModifyOrder):
        changes = [
            f"{name}={value:g}"
            for name in ("quantity", "limit_price", "stop_price", "trail_amount")
            if (value := getattr(intent, name)) is not None
        ]
        text = f"{intent.symbol} modify [{intent.tag}] {' '.join(changes)}"
    elif isinstance(intent, CancelOrder):
        text = f"{intent.symbol} cancel [{intent.tag}]"
    elif isinstance(intent, TargetPosition):
        text = f"{intent.symbol} target position {intent.quantity:g}"
    else:
        text = repr(intent)
    reason = getattr(intent, "reason", "")
    return f"{text} ({reason})" if reason else text


def _spec(spec: Any) -> str:
    parts = [str(spec.action), f"{spec.quantity:g}", str(spec.order_type)]
    if spec.limit_price is not None:
        parts.append(f"lmt {_num(spec.limit_price)}")
    if spec.stop_price is not None:
        parts.append(f"stp {_num(spec.stop_price)}")
    return " ".join(parts)


def _tick_kind(tick_by_tick: str | None) -> str:
    return "market data" if tick_by_tick is None else f"tick-by-tick {tick_by_tick}"


def _num(x: float) -> str:
    return f"{x:.6g}" if abs(x) < 1 else f"{x:.2f}"
