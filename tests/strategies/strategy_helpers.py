"""Strategy test helpers: a scriptable StrategyContext, bar builders and a tiny fill simulator.

``FakeContext`` returns exactly what a test scripts (positions, working orders, indicator values,
tick, session open, P&L), so a test asserts a strategy's exact intents for a crafted situation.
``Sim`` runs a strategy on real indicator math (``bot.strategy.indicators.IndicatorSet``) over a bar
series, filling market orders at the bar's close and stops/limits when a later bar reaches them,
so a test can show a strategy actually trades end to end.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from support.times import NY

from bot.model.events import (
    Bar,
    CancelOrder,
    FillEvent,
    KillSwitch,
    ModifyOrder,
    OrderIntent,
    OrderSpec,
    OrderType,
    PlaceBracket,
    PlaceOrder,
    Side,
    TargetPosition,
    WorkingOrder,
)
from bot.strategy.api import Strategy

T0 = datetime(2024, 1, 2, 15, 0, tzinfo=UTC)  # the strategy tests' first bar: 10:00 NY
NAN = float("nan")


def ny(day: date, hh: int, mm: int) -> datetime:
    """A New York wall-clock time as UTC."""
    return datetime.combine(day, time(hh, mm), NY).astimezone(UTC)


def bar(
    t: datetime,
    close: float,
    *,
    symbol: str = "AAPL",
    high: float | None = None,
    low: float | None = None,
    volume: float = 1000.0,
    size_s: int = 900,
) -> Bar:
    hi = close if high is None else high
    lo = close if low is None else low
    return Bar(symbol, t, close, hi, lo, close, volume, size_s)


class FakeContext:
    """Everything scripted; ``quantity_for`` sizes by ``capital`` (int(capital / price))."""

    def __init__(self, symbols: Sequence[str] = ("AAPL",), *, min_tick: float = 0.01) -> None:
        self.strategy_id = "test"
        self.symbols = tuple(symbols)
        self.min_tick = min_tick
        self.capital = 10_000.0
        self.positions: dict[str, float] = {}
        self.orders: dict[str, dict[str, WorkingOrder]] = {}
        self.values: dict[tuple[str, str], list[Any]] = {}
        self.pnl = 0.0
        self.ib_pnl: dict[str, float] = {}  # IB's daily P&L per symbol (reqPnLSingle)
        self.clock = datetime(2024, 1, 2, 15, tzinfo=UTC)
        self.session = time(9, 30)  # regular session open, New York time, on weekdays
        self._next_id = 1

    # --- scripting ---
    def script(self, name: str, *values: Any, symbol: str = "AAPL") -> None:
        """Indicator ``name``: values[0] now, values[1] one bar ago, ... (NaN beyond)."""
        self.values[(symbol, name)] = list(values)

    def add_order(self, tag: str, spec: OrderSpec, *, symbol: str = "AAPL") -> WorkingOrder:
        wo = WorkingOrder(symbol, tag, self._next_id, spec, 0.0, "Submitted")
        self._next_id += 1
        self.orders.setdefault(symbol, {})[tag] = wo
        return wo

    # --- StrategyContext ---
    def now(self) -> datetime:
        return self.clock

    def position(self, symbol: str) -> float:
        return self.positions.get(symbol, 0.0)

    def working_orders(self, symbol: str) -> Mapping[str, WorkingOrder]:
        return dict(self.orders.get(symbol, {}))

    def indicator(self, symbol: str, name: str, ago: int = 0) -> Any:
        values = self.values.get((symbol, name), [])
        return values[ago] if ago < len(values) else NAN

    def round_to_tick(self, symbol: str, price: float) -> float:
        return round(round(price / self.min_tick) * self.min_tick, 10)

    def quantity_for(self, symbol: str, price: float) -> int:
        return int(self.capital / price)

    def session_open(self, symbol: str, day: datetime) -> datetime | None:
        local = day.astimezone(NY).date()
        if local.weekday() >= 5:
            return None
        return datetime.combine(local, self.session, NY).astimezone(UTC)

    def pnl_today(self) -> float:
        return self.pnl

    def ib_pnl_today(self, symbols: Iterable[str] | None = None) -> float | None:
        known = [self.ib_pnl[s] for s in (self.symbols if symbols is None else symbols)
                 if s in self.ib_pnl]  # fmt: skip
        return sum(known) if known else None


def fill(
    tag: str, side: Side, qty: float, price: float, *, symbol: str = "AAPL", order_id: int = 1
) -> FillEvent:
    t = datetime(2024, 1, 2, 15, tzinfo=UTC)
    return FillEvent(symbol, tag, side, qty, price, 0.0, t, order_id, f"e{order_id}.{qty}")


class Sim:
    """Runs a strategy over bars with real indicators and naive fills; records every intent."""

    def __init__(self, strategy_cls: type[Strategy[Any]], params: Any, ctx: FakeContext) -> None:
        from bot.strategy.indicators import IndicatorSet

        self.ctx = ctx
        self.strategy = strategy_cls(ctx, params)
        self.specs = self.strategy.indicators()
        self.sets: dict[str, IndicatorSet] = {}
        self.intents: list[OrderIntent] = []
        self.fills: list[FillEvent] = []
        self.oca: dict[str, str] = {}  # bracket child tag -> its sibling's tag
        ctx.indicator = self._indicator  # type: ignore[method-assign]

    def _indicator(self, symbol: str, name: str, ago: int = 0) -> Any:
        return self.sets[symbol].value(self.specs[name], ago)

    def run(self, bars: Iterable[Bar]) -> None:
        from bot.strategy.indicators import IndicatorSet

        for b in bars:
            if b.symbol not in self.sets:
                self.sets[b.symbol] = ind = IndicatorSet()
                for spec in self.specs.values():
                    ind.add(spec, history=3)
            self._match_resting(b)
            self.sets[b.symbol].on_bar(b)
            self.ctx.clock = b.end
            self._apply(self.strategy.on_bar(b), b.close)

    def _apply(self, intents: Iterable[OrderIntent], price: float) -> None:
        for it in intents:
            self.intents.append(it)
            orders = self.ctx.orders.setdefault(getattr(it, "symbol", ""), {})
            if isinstance(it, PlaceOrder) and it.order.order_type is OrderType.MARKET:
                self._fill(it.symbol, it.tag, it.order.action, it.order.quantity, price)
            elif isinstance(it, PlaceOrder):
                self.ctx.add_order(it.tag, it.order, symbol=it.symbol)
            elif isinstance(it, PlaceBracket):
                tp, sl = f"{it.tag}.tp", f"{it.tag}.sl"
                self.oca.update({tp: sl, sl: tp})
                for tag, spec in ((tp, it.take_profit), (sl, it.stop_loss)):
                    if spec is not None:
                        self.ctx.add_order(tag, spec, symbol=it.symbol)
                self._fill(it.symbol, it.tag, it.entry.action, it.entry.quantity, price)
            elif isinstance(it, ModifyOrder):
                wo = orders[it.tag]
                changes = {"quantity": it.quantity, "stop_price": it.stop_price}
                spec = replace(wo.spec, **{k: v for k, v in changes.items() if v is not None})
                orders[it.tag] = replace(wo, spec=spec)
            elif isinstance(it, CancelOrder):
                orders.pop(it.tag)
            elif isinstance(it, TargetPosition):
                delta = it.quantity - self.ctx.position(it.symbol)
                side = Side.BUY if delta > 0 else Side.SELL
                self._fill(it.symbol, "target", side, abs(delta), price)
            elif isinstance(it, KillSwitch):
                for sym, pos in list(self.ctx.positions.items()):
                    self.ctx.orders[sym] = {}
                    if pos:
                        self._fill(sym, "kill", Side.SELL if pos > 0 else Side.BUY, abs(pos), price)

    def _fill(self, symbol: str, tag: str, side: Side, qty: float, price: float) -> None:
        self.ctx.positions[symbol] = self.ctx.position(symbol) + side.sign * qty
        t = self.ctx.clock
        f = FillEvent(
            symbol, tag, side, qty, price, 0.0, t, len(self.fills) + 1, str(len(self.fills))
        )
        self.fills.append(f)
        self._apply(self.strategy.on_fill(f), price)

    def _match_resting(self, b: Bar) -> None:
        orders = self.ctx.orders.get(b.symbol, {})
        for tag, wo in list(orders.items()):
            s = wo.spec
            buy = s.action is Side.BUY
            if s.order_type is OrderType.STOP and s.stop_price is not None:
                hit = b.high >= s.stop_price if buy else b.low <= s.stop_price
                price = s.stop_price
            elif s.order_type is OrderType.LIMIT and s.limit_price is not None:
                hit = b.low <= s.limit_price if buy else b.high >= s.limit_price
                price = s.limit_price
            else:
                continue
            if hit and tag in orders:
                del orders[tag]
                orders.pop(self.oca.get(tag, ""), None)
                self._fill(b.symbol, tag, s.action, s.quantity, price)


def series(
    closes: Sequence[float], start: datetime, step_s: int, symbol: str = "AAPL"
) -> list[Bar]:
    """OHLC bars around ``closes``: open at the previous close, a small range either side."""
    out, prev = [], closes[0]
    for i, c in enumerate(closes):
        hi, lo = max(prev, c) * 1.002, min(prev, c) * 0.998
        t = start + timedelta(seconds=step_s * i)
        out.append(Bar(symbol, t, prev, hi, lo, c, 1000.0, step_s))
        prev = c
    assert all(math.isfinite(x) for x in closes)
    return out
