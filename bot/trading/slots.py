"""The running strategies and what each reads: its bar streams (routed to it, with the
IndicatorSet shared by every strategy reading the same stream) and its ticks, declared on the
feed as strategies are added and as a daily scan changes their symbols (bot/trading/router.py
routes the events along these)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal, Protocol

from pydantic import BaseModel

from bot.market_data.streams import StreamKey
from bot.portfolio.book import Portfolio
from bot.ports.venue import BarSource as Feed
from bot.strategy.api import Strategy
from bot.strategy.context import EngineContext, PositionsAndOrders, SizingLike, SymbolInfo
from bot.strategy.indicators import IndicatorSet

INDICATOR_HISTORY = 5  # values kept per indicator: strategies may look up to 4 bars back

IbPnlOf = Callable[[Iterable[str]], float | None]  # IB's daily P&L over some symbols


class TickKindConflict(ValueError):
    """Two strategies want different kinds of ticks on one symbol (bad input: a config fix)."""



class TickSpecLike(Protocol):
    @property
    def tick_by_tick(self) -> str | None: ...


class StrategySettings(Protocol):
    """The fields of ``bot.config.strategies.StrategyConfig`` the router reads."""

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




class Slots:
    """The slots by strategy id, and the routes from streams and symbols to them."""

    def __init__(
        self, orders: PositionsAndOrders, infos: Mapping[str, SymbolInfo],
        clock: Callable[[], datetime], pnl: Portfolio,
        net_liquidation: Callable[[], float | None], ib_pnl: IbPnlOf,
    ) -> None:  # fmt: skip
        """What each strategy's context reads: orders and positions, contracts, the clock, the
        P&L, the account's net liquidation, IB's daily P&L (None where there is none)."""
        self._orders, self._infos, self._clock, self._pnl = orders, infos, clock, pnl
        self._net_liquidation, self._ib_pnl = net_liquidation, ib_pnl
        self.by_id: dict[str, Slot] = {}
        self.routes: dict[StreamKey, list[Slot]] = {}
        self.sets: dict[StreamKey, IndicatorSet] = {}
        self.tick_routes: dict[str, list[Slot]] = {}

    def add(
        self, settings: StrategySettings, cls: type[Strategy[Any]], params: BaseModel
    ) -> Slot:
        symbols = tuple(settings.symbols)
        ctx = EngineContext(
            settings.id,
            symbols,
            orders=self._orders,
            infos=self._infos,
            sizing=settings.sizing,
            clock=self._clock,
            net_liquidation=self._net_liquidation,
            pnl=self._pnl,
            ib_pnl=self._ib_pnl,
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
        self.by_id[settings.id] = slot
        return slot

    def attach(self, feed: Feed, strategy_id: str, bars: Any) -> None:
        """Declare a strategy's bar streams (and ticks) on ``feed``; ``bars`` is its
        ``bot.config.bars.BarSpec``. The strategy gets the IndicatorSet of each of its (symbol,
        bar spec) streams, shared with every strategy reading the same stream."""
        slot = self.by_id[strategy_id]
        slot.bar_spec = bars
        sets: dict[str, IndicatorSet] = {}
        for symbol in slot.ctx.symbols:
            _, sets[symbol] = self._attach_symbol(feed, slot, symbol)
        slot.ctx.bind_indicators(dict(slot.strategy.indicators()), sets)

    def _attach_symbol(self, feed: Feed, slot: Slot, symbol: str) -> tuple[StreamKey, IndicatorSet]:
        bars, info = slot.bar_spec, self._infos[symbol]
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
        self.routes.setdefault(key, []).append(slot)
        iset = self.sets.get(key)
        if iset is None:
            iset = self.sets[key] = IndicatorSet()
        for ind in slot.strategy.indicators().values():
            iset.add(ind, history=INDICATOR_HISTORY)
        if slot.wants_ticks:
            self._add_ticks(feed, slot, symbol)
        return key, iset

    def _add_ticks(self, feed: Feed, slot: Slot, symbol: str) -> None:
        """One tick subscription per symbol, so every strategy reading it must want the same
        kind (IB would send a second kind on the same ticker, mixed)."""
        routes = self.tick_routes.setdefault(symbol, [])
        if routes and routes[0].tick_by_tick != slot.tick_by_tick:
            raise TickKindConflict(
                f"{slot.id}: ticks on {symbol} as {_tick_kind(slot.tick_by_tick)}, but "
                f"{routes[0].id} reads them as {_tick_kind(routes[0].tick_by_tick)}; strategies "
                f"sharing a symbol must ask for the same ticks"
            )
        if slot.tick_by_tick is None:
            feed.add_ticks(symbol, self._infos[symbol].contract)
        else:
            feed.add_tick_by_tick(symbol, self._infos[symbol].contract, slot.tick_by_tick)
        routes.append(slot)

    def set_symbols(self, feed: Feed, strategy_id: str, symbols: Iterable[str]) -> list[StreamKey]:
        """Make ``symbols`` (qualified, in ``infos``) the strategy's symbols from now on: new
        ones get their streams declared (returned: the feed still has to start them, whose
        warm-up reaches the strategy as warm-up bars), dropped ones leave its routes, and
        streams and ticks nobody reads any more are removed from the feed."""
        slot = self.by_id[strategy_id]
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
        for key in [k for k, slots in self.routes.items() if k.symbol == symbol]:
            slots = self.routes[key]
            if slot in slots:
                slots.remove(slot)
            if not slots:
                del self.routes[key]
                self.sets.pop(key, None)
                feed.remove_bars(key)
        ticks = self.tick_routes.get(symbol)
        if ticks is not None and slot in ticks:
            ticks.remove(slot)
            if not ticks:
                del self.tick_routes[symbol]
                feed.remove_ticks(symbol)



def _tick_kind(tick_by_tick: str | None) -> str:
    return "market data" if tick_by_tick is None else f"tick-by-tick {tick_by_tick}"

