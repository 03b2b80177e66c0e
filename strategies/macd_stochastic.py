"""MACD trend + rising Stochastic entry, ATR stop: the IB API course's main strategy, with
ibbot's defaults where the course's own code differs (README: "course rules vs ibbot defaults").

Long only, 15-minute bars. Entry when flat and MACD > signal AND the smoothed stochastic (%D, a
3-bar SMA of the 20-bar %K) is above 30 and higher than on the previous bar: a market buy of
int(capital / close) shares. When the buy fills, a stop sell goes in for the filled quantity at
close - ATR(60) (the course's ``ewm(com=60)`` ATR), rounded to the tick. The position exits only
through that stop. Where ibbot's defaults depart from the course, and the parameter that gives
the course's rule:

- ``trail: ratchet`` (default): on every later bar the stop trails to close - ATR, only ever up.
  ``trail: course``: it is re-set to close - ATR on every bar, up or down (a modify per change).
- ``stop_round: null`` (default): the stop is rounded to the instrument's tick.
  ``stop_round: 0.1``: to 0.1 first (the course's ``round(close - atr, 1)``), then to the tick.
- ``reenter_on_stop_bar: true`` (default): on the bar whose stop filled, a new entry may follow
  at that bar's close. ``false``: not before the next bar, as in the course's backtest loop.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Literal

from pydantic import Field

from bot.model.events import Bar, CancelOrder, FillEvent, OrderIntent, OrderSpec, PlaceOrder, Side
from bot.model.price_grid import round_to_tick
from bot.strategy.api import Strategy, StrategyContext
from bot.strategy.indicators import ATR, MACD, IndicatorSpec, Stochastic
from bot.strategy.registry import register
from strategies.common import STOP, LongStop, StopTif, StrategyParams, defined

ENTRY = "entry"


class MacdStochasticParams(StrategyParams):
    capital: float = Field(default=1000.0, gt=0)
    """Money per symbol for one entry: buys int(capital / close) shares (none if that is 0)."""
    macd_fast: int = Field(default=12, ge=1)
    """MACD fast EMA span."""
    macd_slow: int = Field(default=26, ge=1)
    """MACD slow EMA span."""
    macd_signal: int = Field(default=9, ge=1)
    """MACD signal EMA span."""
    stoch_n: int = Field(default=20, ge=1)
    """Stochastic %K lookback (bars)."""
    stoch_smooth: int = Field(default=3, ge=1)
    """Bars of the SMA of %K that the entry reads."""
    stoch_min: float = Field(default=30.0, ge=0, le=100)
    """Smoothed stochastic must be above this (and rising) to enter."""
    atr_n: int = Field(default=60, ge=1)
    """ATR period (course form, ewm(com=n)); the stop sits close - ATR below the price."""
    stop_tif: StopTif | None = "GTC"
    """Stop time in force; GTC keeps a long held overnight protected (null: executor default)."""
    trail: Literal["ratchet", "course"] = "ratchet"
    """ratchet: the stop trails to close - ATR only ever up; course: re-set to close - ATR on
    every bar, down as well (the course's modify every bar)."""
    stop_round: float | None = Field(default=None, gt=0, allow_inf_nan=False)
    """Step the stop price is rounded to, then to the tick grid: null = the instrument's tick;
    0.1 = the course's round(close - atr, 1)."""
    reenter_on_stop_bar: bool = True
    """true: the bar on which the stop filled may enter again at its close; false: not before
    the next bar (the course's backtest loop)."""


@register("macd_stochastic")
class MacdStochastic(Strategy[MacdStochasticParams]):
    """Long when MACD > signal and the smoothed stochastic > 30 and rising; ATR stop."""

    Params = MacdStochasticParams

    def __init__(self, ctx: StrategyContext, params: MacdStochasticParams) -> None:
        super().__init__(ctx, params)
        self.stops = LongStop(ctx, params.stop_tif)
        self._stopped_at: dict[str, datetime] = {}  # time of each symbol's last stop fill

    def indicators(self) -> Mapping[str, IndicatorSpec]:
        p = self.params
        return {
            "macd": MACD(p.macd_fast, p.macd_slow, p.macd_signal, source="course"),
            "stoch": Stochastic(p.stoch_n, p.stoch_smooth),
            "atr": ATR(p.atr_n, method="course"),
        }

    def on_bar(self, bar: Bar) -> list[OrderIntent]:
        sym, ctx = bar.symbol, self.ctx
        atr = ctx.indicator(sym, "atr")
        working = ctx.working_orders(sym)
        if ctx.position(sym) > 0:
            if not defined(atr):
                return []
            ratchet = self.params.trail == "ratchet"
            return self.stops.trail(sym, self._stop_price(sym, bar.close - atr), ratchet=ratchet)
        if ENTRY in working:  # the buy has not filled yet
            return []
        self.stops.reset(sym)
        # Flat with a stop still working: its long is gone, so the stop must go too.
        out: list[OrderIntent] = [CancelOrder(sym, STOP, "flat")] if STOP in working else []
        if self._entry_signal(sym) and defined(atr) and not self._stopped_in(bar):
            qty = int(self.params.capital / bar.close)
            if qty > 0:
                self.stops.arm(sym, self._stop_price(sym, bar.close - atr))
                buy = OrderSpec(Side.BUY, qty)
                out.append(PlaceOrder(sym, buy, tag=ENTRY, reason="MACD>signal, stoch>min rising"))
        return out

    def _entry_signal(self, sym: str) -> bool:
        macd = self.ctx.indicator(sym, "macd")
        stoch, prev = self.ctx.indicator(sym, "stoch"), self.ctx.indicator(sym, "stoch", ago=1)
        if not defined(macd, stoch.d, prev.d):
            return False
        return bool(
            macd.macd > macd.signal and stoch.d > self.params.stoch_min and stoch.d > prev.d
        )

    def _stop_price(self, sym: str, price: float) -> float:
        step = self.params.stop_round
        if step is not None:
            price = round_to_tick(price, step)
        return self.ctx.round_to_tick(sym, price)  # a coarser step may still be off the grid

    def _stopped_in(self, bar: Bar) -> bool:
        """The stop filled during this bar (a fill stamped at or after its start), and the
        course's rule of no entry on that bar is on."""
        if self.params.reenter_on_stop_bar:
            return False
        stopped = self._stopped_at.get(bar.symbol)
        return stopped is not None and stopped >= bar.time

    def on_fill(self, fill: FillEvent) -> list[OrderIntent]:
        if fill.tag == STOP:
            self._stopped_at[fill.symbol] = fill.time
        if fill.tag == ENTRY and fill.side is Side.BUY:
            return self.stops.on_entry_fill(fill)
        return []
