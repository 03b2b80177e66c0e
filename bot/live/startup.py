"""Pieces of the daemon's start-up: its journal, the trading parts over IB (or a dry run), and
the supervisor and watchdog that take the connection and the streams once live."""

from __future__ import annotations

from typing import TYPE_CHECKING

from bot.journal.store import Journal, broker_identity, dry_run_path
from bot.live.supervisor import Backoff, MaintenanceWindow, Supervisor, wall_estimate
from bot.live.watchdog import StaleWatchdog, WatchdogSettings
from bot.market_data.history_pacing import HistoryGovernor, HistoryLimits
from bot.market_data.ib_feed import Feed
from bot.market_data.recorder import Recorder
from bot.orders.message_rate import PacingGovernor
from bot.strategy.context import zone
from bot.trading.kernel import Options, Trader
from bot.venues.dry_run import DryRunBroker
from bot.venues.ib import IbBroker

if TYPE_CHECKING:
    from bot.live.daemon import Daemon


def open_journal(d: Daemon) -> Journal:
    """The run's journal (a dry run's own file), its run begun."""
    cfg = d.cfg
    journal = Journal(dry_run_path(cfg.journal.path) if d.dry_run else cfg.journal.path)
    # The embedded gateway is a new simulated world each run: nothing of earlier runs
    # (positions, order sequences, execIds) belongs to it. A real account continues its book.
    broker = broker_identity(d.account, embedded=d.gateway is not None)
    journal.begin_run(
        now=d.clock.now(), account=d.account, mode=cfg.mode, dry_run=d.dry_run,
        config=cfg.model_dump_json(), broker=broker,
    )  # fmt: skip
    return journal


def build_trader(d: Daemon, journal: Journal, rec: Recorder | None) -> Trader:
    """Risk, executor, strategies and feed over the daemon's connection (bot/trading/kernel.py)."""
    cfg = d.cfg
    pacing = PacingGovernor.unlimited() if d.opts.lockstep else None
    # A dry run trades on the simulated broker, fed by the live prices: nothing is sent.
    orders_to = (
        DryRunBroker(d.account, d.clock.now) if d.dry_run
        else IbBroker(d.ib, journal.reads.max_order_id())
    )  # fmt: skip
    return Trader(
        cfg, venue=d.venue, broker=orders_to,
        make_feed=lambda on_bar, on_tick: Feed(
            d.ib, on_bar, on_tick, current_time=d.venue.current_time,
            max_data_lines=cfg.ib.max_data_lines, on_rt_bar=rec.rt_bar if rec else None,
            governor=HistoryGovernor(HistoryLimits().scaled(cfg.ib.history_pacing_scale)),
        ),
        journal=journal, infos=d.infos, clock=d.clock, heartbeat=d.ib,
        options=Options(d.account, d.dry_run, cfg.mode, d.opts.live, pacing),
        recorder=rec, ib_pnl=d.ib_pnl.daily if d.ib_pnl else None,
    )  # fmt: skip


def supervise(d: Daemon) -> tuple[Supervisor, StaleWatchdog]:
    """The supervisor, given the connection (its events wired; the caller says ``connected``),
    and the staleness watchdog over the feed's streams."""
    assert d.router is not None and d.feed is not None
    ib_cfg, feed = d.cfg.ib, d.feed
    r, m = ib_cfg.reconnect, ib_cfg.maintenance
    window = None
    if m is not None:
        window = MaintenanceWindow(m.start_time, m.end_time, zone(m.timezone))
    supervisor = Supervisor(
        d, d.router.risk, backoff=Backoff(r.initial, r.max, r.jitter), seed=r.seed,
        maintenance=window, now=wall_estimate(d.clock.now),
        journal_event=d.journal.record_event if d.journal else None, farms=d.farms,
    )  # fmt: skip
    d.ib.errorEvent -= d.farms.on_error
    w = ib_cfg.watchdog
    watchdog = StaleWatchdog(
        lambda: feed.streams, d.infos, d.router.risk, feed.restart,
        WatchdogSettings(w.stale_bars, w.pause_after, w.poll),
    )  # fmt: skip
    d.ib.errorEvent += supervisor.on_error
    d.ib.disconnectedEvent += supervisor.on_disconnect
    return supervisor, watchdog
