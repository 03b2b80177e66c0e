"""The dry run's broker: the simulated broker of backtests and the gateway, fed by live prices.

``DryRunBroker`` is a ``SimBrokerAdapter`` over a small ``SimWorld`` with no market data of
its own: its instruments are built from the qualified contracts' ContractDetails, its clock
follows the daemon's, and its prices are the ones the daemon sees. Each closed bar becomes the
world's ticks for that instrument (the bar's path: open, extremes, close, all at the bar's
end), each tick price one tick; both go to ``SimBroker.on_tick``, then ``on_time``, then the
events are delivered. So a market order fills at the next price seen, and resting orders fill
by the simulated broker's rules (bot/sim/matching.py), exactly as in a backtest. Nothing
reaches IB.

- A bar stands for prices up to its end. One that ends no later than the dry run's start (a
  warm-up bar), the instrument's previous bar (a replay after a reconnect) or the last order
  placed or modified on the instrument (prices from before that order) is not traded. Bars
  arrive at their end, before any order they cause, so the last case only arises when a
  strategy trades one symbol on another's bar; resting orders on it then miss that one bar.
- A tick's quote is its trade price (a bar has no spread); no participation cap (a bar's
  ticks carry no size), no buying-power check (the real account's cash is not simulated);
  commissions are the simulated broker's estimate (IB fixed by default).
- Order ids count down from -1, so they never collide with a real account's; execIds are
  ``dry.<orderRef>`` (``.2``, ``.3``... for later partial fills of one order), unique across
  restarts as order refs are (their sequence numbers continue in the dry-run journal).

Trading hours: IB's ``tradingHours`` / ``liquidHours`` list sessions per date
("20261201:0930-20261201:1600;20261202:CLOSED"); the simulator needs one weekday template. It
takes the most common session of the listed days (first open to last close of a day, so a
midday break is ignored), weekends closed; holidays and half days are not simulated. With no
sessions at all the instrument trades all day.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
from collections import Counter
from collections.abc import Callable, Collection, Iterable
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from bot.client.ib import Contract, ContractDetails, Execution, Order, Trade
from bot.sim.broker import BrokerConfig
from bot.sim.clock import SimClock
from bot.sim.instruments import Instrument, Instruments
from bot.sim.market import Market
from bot.sim.types import SimTick
from bot.sim.world import SimWorld
from bot.strategy.context import parse_sessions, zone
from bot.venues.sim import SimBrokerAdapter

log = logging.getLogger(__name__)

ALL_DAY = "00:00-23:59"
#: The dry run's broker settings: see the module doc.
DRY_RUN_BROKER = BrokerConfig(check_buying_power=False)


class DryRunBroker(SimBrokerAdapter):
    """``BrokerPort`` and ``PriceFedBroker`` (bot/ports/venue.py) for a dry run of ``account``."""

    def __init__(
        self, account: str, now: Callable[[], datetime], config: BrokerConfig = DRY_RUN_BROKER
    ) -> None:
        """``now``: the daemon's clock, which the world's follows."""
        self._now = now
        self.clock = SimClock(now())  # manual: moved to each order's, bar's and tick's time
        world = SimWorld(Market(Instruments([]), {}, seed=0), self.clock, config)
        world.broker.open_account(account, 0.0)
        super().__init__(world, account, exec_id=self._dry_exec_id)
        self.on_pending = self._deliver_soon
        self._start = self.clock.now()
        self._traded_to: dict[int, datetime] = {}  # conId -> end of its last bar, or order
        self._last_id = 0
        self._fills_of: Counter[str] = Counter()  # orderRef -> executions so far
        self._delivery: asyncio.Handle | None = None

    # ---- BrokerPort: orders arrive at the daemon's time ---------------------------------

    def place_order(self, contract: Contract, order: Order) -> Trade:
        now = self._now()
        self._follow(now)
        self._traded_to[contract.conId] = max(now, self._traded_to.get(contract.conId, now))
        return super().place_order(contract, order)

    def cancel_order(self, order: Order) -> None:
        self._follow(self._now())
        super().cancel_order(order)

    def global_cancel(self) -> None:
        self._follow(self._now())
        super().global_cancel()

    def next_order_id(self) -> int:
        self._last_id -= 1
        return self._last_id

    def forget(self, trades: Collection[Trade]) -> None:
        super().forget(trades)
        for trade in trades:  # ended: no execution of it, so no execId from its count, follows
            self._fills_of.pop(trade.order.orderRef, None)

    # ---- PriceFedBroker -----------------------------------------------------------------

    def add_contract(
        self, contract: Contract, min_tick: float, details: ContractDetails | None
    ) -> None:
        if details is None:
            raise ValueError(
                f"a dry run needs the contract details of {contract.symbol} (conId "
                f"{contract.conId}): its trading hours and time zone"
            )
        inst = instrument_of(details, min_tick)
        if inst.con_id not in {i.con_id for i in self.world.instruments}:
            self.world.instruments.add(inst)

    def on_bar(
        self, contract: Contract, open_: float, high: float, low: float, close: float,
        end: datetime,
    ) -> None:  # fmt: skip
        con_id = contract.conId
        if end <= max(self._start, self._traded_to.get(con_id, self._start)):
            return  # prices from before the start, the last bar or the last order
        self._traded_to[con_id] = end
        self._trade_at(con_id, bar_path(open_, high, low, close), end)

    def on_price(self, contract: Contract, price: float, time: datetime) -> None:
        self._trade_at(contract.conId, [price], max(time, self.clock.now()))

    def deliver(self) -> None:
        """Hand the queued broker events to their Trades now."""
        if self._delivery is not None:
            self._delivery.cancel()
            self._delivery = None
        super().deliver()

    # ---- inside -------------------------------------------------------------------------

    def _trade_at(self, con_id: int, prices: Iterable[float], time: datetime) -> None:
        self._follow(time)
        broker = self.world.broker
        for p in prices:
            if math.isfinite(p) and p > 0:
                self.take(broker.on_tick(SimTick(time, con_id, p, 0.0, p, p, 0.0, 0.0)))
        self.take(broker.on_time(time))
        self.deliver()

    def _follow(self, time: datetime) -> None:
        """The world's clock follows the daemon's: never backwards."""
        step = time - self.clock.now()
        if step > timedelta(0):
            self.clock.advance(step)

    def _deliver_soon(self) -> None:
        """Events of a place or cancel reach the Trade after the call returns, as from a
        socket: on the next loop turn, or (no loop running) with the next price."""
        if self._delivery is not None:
            return
        with contextlib.suppress(RuntimeError):
            self._delivery = asyncio.get_running_loop().call_soon(self.deliver)

    def _dry_exec_id(self, ex: Execution) -> str:
        if not ex.orderRef:
            return f"dry.{ex.execId}"
        self._fills_of[ex.orderRef] += 1
        n = self._fills_of[ex.orderRef]
        return f"dry.{ex.orderRef}" + (f".{n}" if n > 1 else "")


def bar_path(open_: float, high: float, low: float, close: float) -> list[float]:
    """The prices a bar stands for, in the order they traded as far as a bar tells: open,
    low, high, close (open, high, low, close when it closes below its open); NaN, non-positive
    prices and repeats dropped."""
    extremes = (low, high) if close >= open_ else (high, low)
    path: list[float] = []
    for p in (open_, *extremes, close):
        if p == p and p > 0 and (not path or p != path[-1]):
            path.append(p)
    return path


def instrument_of(details: ContractDetails, min_tick: float) -> Instrument:
    """The simulator's Instrument for one qualified contract (see the module doc for hours)."""
    c = details.contract
    if c is None or not c.conId:
        raise ValueError(f"contract details without a qualified contract: {details!r}")
    tz = zone(details.timeZoneId)
    tz_name = tz.key if isinstance(tz, ZoneInfo) else "UTC"
    trading = weekly_template(details.tradingHours, tz)
    liquid = weekly_template(details.liquidHours, tz) or trading
    if trading is None:
        log.warning("dry run: %s lists no trading hours; it trades all day", c.symbol)
    return Instrument(
        symbol=c.symbol,
        sec_type=c.secType or "STK",
        exchange=c.exchange or "SMART",
        primary_exchange=c.primaryExchange,
        currency=c.currency or "USD",
        con_id=c.conId,
        min_tick=min_tick if min_tick > 0 else float(details.minTick or 0.01),
        time_zone_id=tz_name,
        long_name=details.longName or c.symbol,
        trading_hours=trading or liquid or ALL_DAY,
        liquid_hours=liquid or ALL_DAY,
        local_symbol=c.localSymbol,
    )


def weekly_template(hours: str, tz: ZoneInfo | object) -> str | None:
    """IB's per-date session string -> "HH:MM-HH:MM" in exchange time: the most common day's
    first open and last close (None: no session listed)."""
    days: dict[object, tuple[datetime, datetime]] = {}
    for start, end in parse_sessions(hours or "", tz):  # type: ignore[arg-type]
        a, b = start.astimezone(tz), end.astimezone(tz)  # type: ignore[arg-type]
        first, _ = days.get(b.date(), (a, b))
        days[b.date()] = (min(first, a), b)
    if not days:
        return None
    counts = Counter(f"{a:%H:%M}-{b:%H:%M}" for a, b in days.values())
    return counts.most_common(1)[0][0]
