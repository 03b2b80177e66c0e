"""The in-process backtest: the daemon's own parts stepped through the simulated world.

Nothing here decides a trade or a fill. ``bot.trading.kernel.Trader`` builds the strategies, risk,
executor and journal exactly as ``ibbot run`` does; only the adapters differ
(bot/venues/sim.py, bot/venues/sim_feed.py) and the loop below moves time instead of a socket.
Time is event time only: no sleeps, no throttles, no wall clock.

The loop keeps the simulated gateway's timing, so both engines give the same orders and fills
(tests/backtest/test_engine_parity.py):

* time visits every source-bar end of the subscribed instruments; bars that close there reach
  the strategies at that instant and their orders reach the broker at that instant;
* between bar ends, the broker sees the ticks of the instruments with working orders (the
  others' last prints are marked at their bar closes). When a tick produces an event (a fill,
  a trigger), the step runs on to the next point of the gateway's 5-second step grid, where a
  client of the gateway would read it; strategies answer there;
* a daily scan runs at its time, and time waits for it (qualify, subscribe, warm up).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from bot.config.bot_config import BotConfig
from bot.journal.store import Journal, broker_identity
from bot.live.status_line import summary_text
from bot.market_data.recorder import Recorder, open_recorder
from bot.orders.message_rate import PacingGovernor
from bot.sim.clock import SimClock
from bot.sim.market import Market
from bot.sim.tick_skipping import quiet_between, takes_any_price
from bot.sim.types import SimTick
from bot.sim.world import SimWorld, grid_ceil
from bot.trading.kernel import Options, Trader, qualify
from bot.trading.router import Clock
from bot.venues.sim import SimBrokerAdapter, SimVenue
from bot.venues.sim_feed import SimFeed

log = logging.getLogger(__name__)

_MS = timedelta(milliseconds=1)
END_OF_DATA = "end of the simulated gateway's data"  # as bot.live.daemon says it


class InProcessRun:
    """One backtest over ``[start, end]`` of ``market`` (see module doc)."""

    def __init__(
        self,
        cfg: BotConfig,
        market: Market,
        *,
        start: datetime,
        end: datetime,
        cash: float,
        progress: Callable[[datetime], None] | None = None,
        handle_signals: bool = True,
    ) -> None:
        g = cfg.gateway
        assert g is not None
        self.cfg = cfg
        self.start, self.end = start, end
        self.account = g.account
        self.world = SimWorld(market, SimClock(start, None), g.broker)
        self.world.broker.open_account(self.account, cash)
        self.broker = SimBrokerAdapter(self.world, self.account, client_id=cfg.ib.client_id)
        self.venue = SimVenue(self.world)
        self.clock = Clock(start)
        self.progress = progress
        self.handle_signals = handle_signals
        self.trader: Trader | None = None
        self._instrument_order = {cid: n for n, cid in enumerate(market.con_ids())}
        self.journal: Journal | None = None
        self.recorder: Recorder | None = None  # only where the plan asks for it (tests)
        self.stop_reason = ""
        self.summary = ""
        self.bars = 0  # source bars read (all streams)
        self.loop_seconds = 0.0  # wall time of the replay loop

    @property
    def feed(self) -> SimFeed:
        assert self.trader is not None
        feed = self.trader.feed
        assert isinstance(feed, SimFeed)
        return feed

    # ---- the run ------------------------------------------------------------------------

    async def run(self) -> int:
        """Replay to the end; the exit code (0: ran to its end)."""
        cfg = self.cfg
        previous = _on_signals(self.request_stop) if self.handle_signals else {}
        # Its file: the replay is under way. No write-ahead file: nothing restarts from a
        # backtest's orders (its simulated world is new each run: bot/journal/store.py).
        self.journal = journal = Journal(cfg.journal.path, write_ahead=False)
        journal.begin_run(
            now=self.start, account=self.account, mode=cfg.mode, dry_run=False,
            config=cfg.model_dump_json(), broker=broker_identity(self.account, embedded=True),
        )  # fmt: skip
        try:
            await self._start(journal)
            t0 = time.monotonic()  # a figure for the report only: nothing reads it to decide
            await self._replay()
            self.loop_seconds = time.monotonic() - t0
            self.stop_reason = self.stop_reason or END_OF_DATA
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            self._shutdown()
        return 0

    def request_stop(self, reason: str) -> None:
        """Stop at the next instant (a signal; the figures then cover the part replayed)."""
        self.stop_reason = self.stop_reason or reason

    async def _start(self, journal: Journal) -> None:
        cfg = self.cfg
        infos = await qualify(cfg, self.venue)
        market, now = self.world.market, self.world.clock.now
        self.recorder = open_recorder(cfg.record)
        self.trader = trader = Trader(
            cfg, venue=self.venue, broker=self.broker, journal=journal, infos=infos,
            make_feed=lambda on_bar, on_tick: SimFeed(market, now, on_bar, on_tick),
            clock=self.clock, options=Options(self.account, pacing=PacingGovernor.unlimited()),
            recorder=self.recorder,
        )  # fmt: skip
        await trader.executor.reconcile(verify=trader.traded)
        await self.feed.start()
        if trader.scans:
            self.feed.clock_listeners.append(trader.scans.observe)
        trader.router.start_strategies()
        self.broker.deliver()

    async def _replay(self) -> None:
        feed, world, broker = self.feed, self.world, self.broker
        while not self.stop_reason:
            t = self._next_time()
            if t is None:
                return
            now = world.stepped_to
            active = world.broker.working_con_ids()
            if active:
                t = self._match_until(now, t, active)
            else:
                broker.take(world.pass_time(t))
            self._mark(t, set(active))
            self._set_time(t)
            broker.deliver()
            marks = feed.advance_to(t)
            self.bars += len(marks)
            world.mark(marks)  # instruments first read now: valued from their first close
            if feed.tick_con_ids:  # after the bars: ib_insync hands ticks on after each read
                feed.take_ticks(world.market.ticks_of(feed.tick_con_ids, now, t))
            broker.deliver()
            await self._scans_done()
            if self.progress is not None:
                self.progress(t)

    def _next_time(self) -> datetime | None:
        """The next instant something happens: a bar closes, or a daily scan is due."""
        feed = self.feed
        t = feed.next_time()
        scan = self._next_scan()
        if scan is not None and (t is None or scan < t):
            t = scan
        if t is None or t > self.end:
            return None
        if feed.tick_con_ids:  # tick readers answer at each step, as the gateway's client
            t = min(t, grid_ceil(self.world.stepped_to + _MS))
        return t

    def _match_until(self, t0: datetime, t1: datetime, active: list[int]) -> datetime:
        """Ticks of the instruments with working orders in (t0, t1] to the broker. At the
        first tick that changes an order, the step ends at the next grid point instead (the
        gateway's client reads the news there); returns where the step ended."""
        world, broker = self.world, self.broker
        on_tick = world.broker.on_tick
        stop: datetime | None = None
        for tick in self._ticks(active, t0, t1):
            if stop is not None and tick.time > stop:
                break
            events = on_tick(tick)
            if events:
                broker.take(events)
                if stop is None:
                    stop = min(t1, grid_ceil(tick.time))
        end = stop or t1
        broker.take(world.pass_time(end))
        return end

    def _ticks(self, active: list[int], t0: datetime, t1: datetime) -> list[SimTick]:
        """The ticks in (t0, t1] that can change an order (the fast paths give the very
        ticks the full path would, or skip only ticks that cannot change anything):

        * where all that works is market orders arriving on a bar boundary, only the next
          tick, built without the bar's path;
        * where every order rests out of reach of the bars' range, none;
        * else all of them."""
        market, broker = self.world.market, self.world.broker
        ticks: list[SimTick] = []
        full: list[int] = []
        for cid in active:
            first = market.opening_tick(cid, t0)
            if first is not None and takes_any_price(broker, first):
                if first.time <= t1:
                    ticks.append(first)
                continue
            span = market.price_range(cid, t0, t1)
            if span is None or quiet_between(broker, cid, *span):
                continue
            full.append(cid)
        if full:
            ticks.extend(market.ticks_of(full, t0, t1))
        if len(ticks) > 1:
            order = self._instrument_order
            ticks.sort(key=lambda t: (t.time, order[t.con_id]))
        return ticks

    def _mark(self, t: datetime, ticked: set[int]) -> None:
        """The last prices at ``t`` of every instrument the broker values whose ticks were
        skipped, before anyone acts: as if it had seen them all."""
        world = self.world
        for cid in world.broker.marked_con_ids():
            if cid not in ticked:
                price = world.market.last_at(cid, t)
                if price is not None:
                    world.broker.set_mark(cid, price)

    def _set_time(self, t: datetime) -> None:
        clock = self.world.clock
        if t > clock.now():
            clock.advance(t - clock.now())

    def _next_scan(self) -> datetime | None:
        scans = self.trader.scans if self.trader else None
        if not scans:
            return None
        now = self.world.clock.now()
        # Due at the first market time from its ``at``: a bar end gets there first when bars
        # flow; with nothing subscribed yet, time goes to the scan itself.
        return min(e.schedule.next_due(now) for e in scans.entries)

    async def _scans_done(self) -> None:
        scans = self.trader.scans if self.trader else None
        if not scans:
            return
        scans.observe(self.world.clock.now())
        for task in scans.running():
            await task
        self.broker.deliver()

    # ---- the end ------------------------------------------------------------------------

    def _shutdown(self) -> None:
        trader, journal = self.trader, self.journal
        if trader is not None:
            trader.router.stop_strategies()
            self.broker.deliver()
            trader.executor.shutdown()
            self.broker.deliver()
            self.summary = summary_text(_SummarySource(self, trader))
        if self.recorder is not None:
            self.recorder.close()
        if journal is not None:
            journal.end_run(now=self.world.clock.now(), summary=self.summary)
            journal.close()

    def net_liquidation(self) -> float | None:
        return self.venue.net_liquidation(self.account)


class _SummarySource:
    """What bot.live.status_line.summary_text reads of a daemon."""

    def __init__(self, run: InProcessRun, trader: Trader) -> None:
        self.router, self.feed, self.executor = trader.router, trader.feed, trader.executor
        self.cfg, self.clock = run.cfg, run.clock
        self.account, self.dry_run = run.account, False
        self.stop_reason = run.stop_reason
        self.uptime = 0.0
        self.infos = trader.infos
        self.ib_pnl = None  # no IB in a backtest


def _on_signals(stop: Callable[[str], None]) -> dict[int, Any]:
    """SIGINT / SIGTERM stop the replay between two instants. A plain handler, not the
    loop's: the replay rarely gives the event loop a turn."""
    def handler(signum: int, _frame: Any) -> None:
        stop(f"signal {signal.Signals(signum).name}")

    previous: dict[int, Any] = {}
    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(ValueError):  # not the main thread: the caller handles them
            previous[sig] = signal.signal(sig, handler)
    return previous
