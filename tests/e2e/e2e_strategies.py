"""Strategies for the end-to-end tests: a scripted one (exact, known intents at known bars) and
one that crashes. Imported by the in-process tests; the subprocess tests load it through the
``ibbot.strategies`` entry-point group (a dist-info written by the test), like a third-party
plugin would be."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict

from bot.model.events import (
    Bar,
    FillEvent,
    OrderIntent,
    OrderSpec,
    OrderType,
    PlaceBracket,
    PlaceOrder,
    Rejection,
    Side,
    TargetPosition,
    Tick,
)
from bot.strategy.api import Strategy
from bot.strategy.registry import register


class Step(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    bar: int  # the n-th live bar of `symbol` (1-based)
    symbol: str
    kind: Literal["buy", "sell", "bracket", "limit_buy", "stop_sell", "target"]
    qty: int  # target: the position to hold
    tag: str
    price_factor: float = 1.0  # limit_buy: the limit price is the bar's close x this


class ScriptParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    steps: list[Step] = []
    ticks: bool = False


@register("e2e_scripted")
class Scripted(Strategy[ScriptParams]):
    """Emits exactly the configured steps; bracket legs sit 20% away so they stay working."""

    Params = ScriptParams

    def __init__(self, ctx: object, params: ScriptParams) -> None:
        super().__init__(ctx, params)  # type: ignore[arg-type]
        self.count: dict[str, int] = {}
        self.bars: list[Bar] = []  # live bars
        self.warm: list[Bar] = []  # warm-up bars (and a backfill's older ones)
        self.fills: list[FillEvent] = []
        self.ticks: list[Tick] = []
        self.rejections: list[Rejection] = []

    def wants_ticks(self) -> bool:
        return self.params.ticks

    def on_tick(self, tick: Tick) -> list[OrderIntent]:
        self.ticks.append(tick)
        return []

    def on_warmup_bar(self, bar: Bar) -> None:
        self.warm.append(bar)

    def on_bar(self, bar: Bar) -> list[OrderIntent]:
        self.bars.append(bar)
        n = self.count[bar.symbol] = self.count.get(bar.symbol, 0) + 1
        out: list[OrderIntent] = []
        for s in self.params.steps:
            if s.bar != n or s.symbol != bar.symbol:
                continue
            if s.kind == "bracket":
                tp = self.ctx.round_to_tick(bar.symbol, bar.close * 1.2)
                sl = self.ctx.round_to_tick(bar.symbol, bar.close * 0.8)
                out.append(
                    PlaceBracket(
                        bar.symbol,
                        OrderSpec(Side.BUY, s.qty),
                        OrderSpec(Side.SELL, s.qty, OrderType.LIMIT, limit_price=tp),
                        OrderSpec(Side.SELL, s.qty, OrderType.STOP, stop_price=sl),
                        tag=s.tag,
                    )
                )
            elif s.kind == "stop_sell":  # a standalone protective stop 20% below
                stop = self.ctx.round_to_tick(bar.symbol, bar.close * 0.8)
                spec = OrderSpec(Side.SELL, s.qty, OrderType.STOP, stop_price=stop)
                out.append(PlaceOrder(bar.symbol, spec, tag=s.tag))
            elif s.kind == "target":
                out.append(TargetPosition(bar.symbol, s.qty, s.tag))
            elif s.kind == "limit_buy":
                price = self.ctx.round_to_tick(bar.symbol, bar.close * s.price_factor)
                spec = OrderSpec(Side.BUY, s.qty, OrderType.LIMIT, limit_price=price)
                out.append(PlaceOrder(bar.symbol, spec, tag=s.tag))
            else:
                side = Side.BUY if s.kind == "buy" else Side.SELL
                out.append(PlaceOrder(bar.symbol, OrderSpec(side, s.qty), tag=s.tag))
        return out

    def on_fill(self, fill: FillEvent) -> list[OrderIntent]:
        self.fills.append(fill)
        return []

    def on_rejection(self, rejection: Rejection) -> list[OrderIntent]:
        self.rejections.append(rejection)
        return []


@register("e2e_crash")
class Crash(Strategy[ScriptParams]):
    """Raises on its first bar (and buys if it ever got further, which it must not)."""

    Params = ScriptParams

    def on_bar(self, bar: Bar) -> list[OrderIntent]:
        raise RuntimeError(f"e2e_crash on purpose at {bar.time:%H:%M}")


class TickParams(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)
    qty: int = 1


@register("e2e_tick_trader")
class TickTrader(Strategy[TickParams]):
    """Buys ``qty`` once per symbol on its first tick that carries a price (trade, quote or
    midpoint), and records every tick and fill."""

    Params = TickParams

    def __init__(self, ctx: object, params: TickParams) -> None:
        super().__init__(ctx, params)  # type: ignore[arg-type]
        self.ticks: list[Tick] = []
        self.fills: list[FillEvent] = []
        self.bought: set[str] = set()

    def on_tick(self, tick: Tick) -> list[OrderIntent]:
        self.ticks.append(tick)
        if tick.symbol in self.bought:
            return []
        self.bought.add(tick.symbol)
        return [PlaceOrder(tick.symbol, OrderSpec(Side.BUY, self.params.qty), tag="t1")]

    def on_fill(self, fill: FillEvent) -> list[OrderIntent]:
        self.fills.append(fill)
        return []
