"""The connection supervisor's state machine with fake hooks, its backoff, the maintenance
window, the risk holds it sets (entries paused), and the staleness watchdog on a fake stream."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from datetime import datetime, time, timedelta
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from ib_insync import Contract
from support.times import NY
from support.times import SAMPLE_T0 as T0  # the e2e tests' start

from bot.config.risk import RiskConfig
from bot.journal.store import Journal
from bot.live.supervisor import (
    Backoff,
    ConnState,
    FatalConnectionError,
    MaintenanceWindow,
    Supervisor,
)
from bot.live.watchdog import StaleWatchdog, WatchdogSettings
from bot.market_data.streams import StreamKey
from bot.model.events import (
    CancelOrder,
    ModifyOrder,
    OrderSpec,
    OrderType,
    PlaceBracket,
    PlaceOrder,
    Rejection,
    Side,
    TargetPosition,
    WorkingOrder,
)
from bot.risk.manager import RiskManager
from bot.strategy.context import SymbolInfo


class Hooks:
    def __init__(self, fail: list[BaseException] | None = None) -> None:
        self.fail = fail or []
        self.calls: list[str] = []
        self.stopped = ""
        self.connected = True
        self.on_resubscribe: list[Any] = []  # run (once each) while resubscribing
        self.waits: list[asyncio.Event] = []  # awaited (once each) while resubscribing

    async def resume(self) -> None:
        self.calls.append("resume")
        if self.fail:
            raise self.fail.pop(0)

    async def resubscribe(self) -> None:
        self.calls.append("resubscribe")
        if self.on_resubscribe:
            self.on_resubscribe.pop(0)()
        if self.waits:
            await self.waits.pop(0).wait()

    def is_connected(self) -> bool:
        return self.connected

    async def restart_streams(self, ticks: bool) -> None:
        self.calls.append(f"restart ticks={ticks}")

    def stop(self, reason: str) -> None:
        self.stopped = reason

    def drop_connection(self) -> None:
        self.calls.append("drop")


@pytest.fixture
def risk(tmp_path: Path) -> Iterator[RiskManager]:
    journal = Journal(tmp_path / "j.sqlite")
    yield RiskManager(RiskConfig(), journal)
    journal.close()


def make(hooks: Hooks, risk: RiskManager, **kw: Any) -> Supervisor:
    sup = Supervisor(hooks, risk, backoff=Backoff(0.001, 0.004, 0.5), seed=3,
                     now=lambda: T0, **kw)  # fmt: skip
    sup.connected()
    return sup


async def settle() -> None:
    for _ in range(20):
        await asyncio.sleep(0.005)


async def test_1100_pauses_entries_and_1101_resubscribes_everything(risk: RiskManager) -> None:
    hooks = Hooks()
    sup = make(hooks, risk)
    sup.on_error(-1, 1100, "Connectivity between IB and Trader Workstation has been lost.")
    assert sup.state is ConnState.IB_LOST and risk.paused("connectivity")
    assert not sup.data_expected
    sup.on_error(-1, 1101, "Connectivity ... restored - data lost.")
    await settle()
    assert hooks.calls == ["restart ticks=True"]
    assert sup.state is ConnState.CONNECTED and not risk.paused("connectivity")


async def test_1102_backfills_but_keeps_the_tick_subscriptions(risk: RiskManager) -> None:
    hooks = Hooks()
    sup = make(hooks, risk)
    sup.on_error(-1, 1100, "lost")
    sup.on_error(-1, 1102, "restored - data maintained")
    await settle()
    assert hooks.calls == ["restart ticks=False"] and not risk.states


async def test_a_market_farm_back_after_being_broken_is_resubscribed_once(
    risk: RiskManager,
) -> None:
    hooks = Hooks()
    sup = make(hooks, risk)
    sup.on_error(-1, 2104, "Market data farm connection is OK:usfarm")  # on connect: nothing
    sup.on_error(-1, 2103, "Market data farm connection is broken:usfarm")
    assert not sup.data_expected and sup.farms == {"market data:usfarm": "broken"}
    sup.on_error(-1, 2105, "HMDS data farm connection is broken:ushmds")
    sup.on_error(-1, 2106, "HMDS data farm connection is OK:ushmds")  # history only: no resub
    sup.on_error(-1, 2104, "Market data farm connection is OK:usfarm")
    await settle()
    assert hooks.calls == ["restart ticks=False"] and sup.data_expected


async def test_a_socket_loss_reconnects_with_backoff_until_it_works(risk: RiskManager) -> None:
    hooks = Hooks(fail=[ConnectionRefusedError(), ConnectionRefusedError()])
    sup = make(hooks, risk)
    sup.on_disconnect()
    assert sup.state is ConnState.RECONNECTING and risk.paused("connectivity")
    await settle()
    assert hooks.calls == ["drop", "resume", "drop", "resume", "drop", "resume", "resubscribe"]
    assert sup.state is ConnState.CONNECTED and not risk.states and sup.reconnects == 1


async def test_a_socket_loss_while_resubscribing_reconnects_again(risk: RiskManager) -> None:
    hooks = Hooks()
    sup = make(hooks, risk)
    hooks.on_resubscribe.append(sup.on_disconnect)  # a gateway restart mid-backfill
    sup.on_disconnect()
    await settle()
    assert hooks.calls == ["drop", "resume", "resubscribe", "drop", "resume", "resubscribe"]
    assert sup.state is ConnState.CONNECTED and not risk.states and sup.reconnects == 2


async def test_a_socket_loss_while_a_backfill_waits_for_pacing_reconnects_at_once(
    risk: RiskManager,
) -> None:
    """The resubscribe waits (a backfill queued behind IB's history pacing can wait minutes
    before it even sends, so it never sees the socket go): the supervisor gives it up and
    reconnects now, and the next loop resubscribes."""
    hooks = Hooks()
    sup = make(hooks, risk)
    hooks.waits.append(asyncio.Event())  # never set: the pacing window is far off
    sup.on_disconnect()
    await settle()
    assert hooks.calls == ["drop", "resume", "resubscribe"] and sup.state is ConnState.CONNECTED
    stuck = sup._task
    sup.on_disconnect()  # the socket goes while the backfill waits its turn
    await settle()
    assert hooks.calls == ["drop", "resume", "resubscribe", "drop", "resume", "resubscribe"]
    assert sup.state is ConnState.CONNECTED and not risk.states and sup.reconnects == 2
    assert stuck is not None and stuck.cancelled()


async def test_a_fatal_error_stops_instead_of_retrying(risk: RiskManager) -> None:
    hooks = Hooks(fail=[FatalConnectionError("AAPL now qualifies to another contract")])
    sup = make(hooks, risk)
    sup.on_disconnect()
    await settle()
    assert sup.state is ConnState.STOPPED
    assert hooks.stopped == "error: AAPL now qualifies to another contract"
    assert hooks.calls == ["drop", "resume"]


def test_backoff_doubles_up_to_the_cap_with_seeded_jitter() -> None:
    b = Backoff(0.5, 8.0, 0.2)
    d1, d2 = b.delays(seed=42), b.delays(seed=42)
    first = [d1(n) for n in range(8)]
    assert first == [d2(n) for n in range(8)]  # the same seed, the same delays
    for n, d in enumerate(first):
        base = min(8.0, 0.5 * 2**n)
        assert base * 0.8 <= d <= base * 1.2
    assert Backoff(1, 4, 0).delays()(10) == 4


def test_a_maintenance_window_past_midnight() -> None:
    w = MaintenanceWindow(time(23, 45), time(0, 15), NY)
    at = lambda h, m: datetime(2026, 10, 29, h, m, tzinfo=NY)  # noqa: E731
    assert w.contains(at(23, 50)) and w.contains(at(0, 10))
    assert not w.contains(at(0, 15)) and not w.contains(at(23, 44)) and not w.contains(at(12, 0))


async def test_the_maintenance_window_pauses_entries_and_expects_the_disconnect(
    caplog: pytest.LogCaptureFixture, risk: RiskManager,
) -> None:  # fmt: skip
    now = [datetime(2026, 10, 29, 23, 50, tzinfo=NY)]
    hooks = Hooks()
    sup = Supervisor(hooks, risk, backoff=Backoff(0.001, 0.002, 0), now=lambda: now[0],
                     maintenance=MaintenanceWindow(time(23, 45), time(0, 15), NY))  # fmt: skip
    sup.connected()
    sup.tick(now[0])
    assert risk.paused("maintenance")
    caplog.set_level("INFO")
    sup.on_disconnect()
    assert "disconnected during the maintenance window (expected)" in caplog.text
    assert not [r for r in caplog.records if r.name.startswith("bot.") and r.levelno > 20]
    await settle()
    now[0] = datetime(2026, 10, 30, 0, 16, tzinfo=NY)
    sup.tick(now[0])
    assert not risk.states


async def test_status_names_the_state_since_when_and_why(risk: RiskManager) -> None:
    now = [datetime(2026, 10, 29, 15, 0, tzinfo=NY)]
    hooks = Hooks([ConnectionError("refused")] * 1000)  # the reconnect keeps failing
    sup = Supervisor(hooks, risk, backoff=Backoff(0.001, 0.002, 0), now=lambda: now[0],
                     maintenance=MaintenanceWindow(time(23, 45), time(0, 15), NY))  # fmt: skip
    sup.connected()
    st = sup.status()
    assert (st.name, st.ok, st.since, st.why) == ("connected", True, now[0], "live")
    now[0] += timedelta(minutes=1)
    sup.on_error(-1, 1100, "Connectivity between IB and Trader Workstation has been lost.")
    st = sup.status()
    assert (st.name, st.ok, st.since) == ("connectivity_lost", False, now[0])
    assert st.describe() == ("connectivity lost since 2026-10-29 19:01:00 UTC: 1100 "
                             "Connectivity between IB and Trader Workstation has been lost.")
    sup.on_error(-1, 1102, "Connectivity between IB and TWS has been restored - data maintained.")
    await settle()
    assert sup.status().name == "connected" and sup.status().why.startswith("1102 ")
    sup.on_error(-1, 2108, "Market data farm connection is inactive but should be available "
                 "upon demand.:usfarm")  # fmt: skip
    assert sup.status().farms == {"market data:usfarm": "inactive"} and sup.data_expected
    sup.on_disconnect()
    assert (sup.status().name, sup.status().why) == ("reconnecting", "socket lost")
    now[0] = datetime(2026, 10, 29, 23, 50, tzinfo=NY)  # still down, now inside the window
    assert sup.status().name == "maintenance" and not sup.status().ok
    await sup.stop()


# ---- entries paused: risk holds ----------------------------------------------------------------


def check(risk: RiskManager, sid: str, intent: Any, position: float = 0,
          working: dict[str, WorkingOrder] | None = None) -> Any:  # fmt: skip
    return risk.check(sid, intent, position=position, ref_price=100.0, now=T0, working=working)


def test_paused_entries_refuse_only_what_adds_exposure(risk: RiskManager) -> None:
    risk.pause_entries("connectivity", "connectivity: IB's servers unreachable (1100)", now=T0,
                       transient=True)  # fmt: skip
    buy, sell = OrderSpec(Side.BUY, 10), OrderSpec(Side.SELL, 10)
    refused = check(risk, "s1", PlaceOrder("AAPL", buy))
    assert isinstance(refused, Rejection)
    assert refused.reason == ("s1 is REDUCING (connectivity: IB's servers unreachable (1100)): "
                              "only orders that reduce the position")  # fmt: skip
    assert isinstance(check(risk, "s1", PlaceOrder("AAPL", buy), 5), Rejection)  # adds
    assert check(risk, "s1", PlaceOrder("AAPL", sell), 10) is None  # closes it
    assert isinstance(check(risk, "s1", PlaceOrder("AAPL", OrderSpec(Side.SELL, 20)), 10),
                      Rejection)  # flips it  # fmt: skip
    assert isinstance(check(risk, "s1", PlaceBracket("AAPL", buy, None, None)), Rejection)
    assert check(risk, "s1", TargetPosition("AAPL", 5), 10) is None
    assert isinstance(check(risk, "s1", TargetPosition("AAPL", -5), 10), Rejection)
    assert check(risk, "s1", CancelOrder("AAPL", "e1"), 10) is None
    stop = OrderSpec(Side.SELL, 10, OrderType.STOP, stop_price=95.0)
    working = {"stop": WorkingOrder("AAPL", "stop", 7, stop, 0, "Submitted")}
    moved = ModifyOrder("AAPL", "stop", stop_price=97.0)  # the protective stop still moves
    assert check(risk, "s1", moved, 10, working) is None
    assert risk.clear("connectivity", now=T0) and check(risk, "s1", PlaceOrder("AAPL", buy)) is None


def test_pauses_have_scopes_and_show_in_the_states(risk: RiskManager) -> None:
    risk.pause_entries("stale data", "stale data on AAPL: silent", now=T0, symbol="AAPL",
                       transient=True)  # fmt: skip
    risk.pause_entries("reject storm", "reject storm: 5 in a row", now=T0, strategy_id="s2",
                       resumable=True)  # fmt: skip
    entry = PlaceOrder("AAPL", OrderSpec(Side.BUY, 1))
    why = check(risk, "s1", entry)
    assert isinstance(why, Rejection) and "REDUCING (stale data on AAPL: silent)" in why.reason
    assert check(risk, "s1", PlaceOrder("MSFT", OrderSpec(Side.BUY, 1))) is None
    assert isinstance(check(risk, "s2", PlaceOrder("MSFT", OrderSpec(Side.BUY, 1))), Rejection)
    # What metrics, health and the status line read: every hold, the symbol named.
    assert risk.state(None, T0).reason == "stale data on AAPL: silent"
    assert risk.state("s2", T0).reason == "reject storm: 5 in a row"
    assert risk.not_active(T0) == ["the account REDUCING (stale data on AAPL: silent)",
                                   "s2 REDUCING (reject storm: 5 in a row)"]  # fmt: skip
    assert not risk.pause_entries("stale data", "stale data on AAPL: silent", now=T0,
                                  symbol="AAPL", transient=True)  # already in force
    assert risk.clear("stale data", now=T0, symbol="AAPL") and check(risk, "s1", entry) is None
    risk.resume(strategy_id="s2", now=T0)  # the operator lifts a reject storm
    assert not risk.states


def test_connection_holds_are_journalled_but_not_restored(tmp_path: Path) -> None:
    path = tmp_path / "restart.sqlite"
    journal = Journal(path)
    journal.begin_run(now=T0, account="DU1", mode="paper", dry_run=False)
    first = RiskManager(RiskConfig(), journal)
    first.pause_entries("connectivity", "connectivity: the socket to IB is gone", now=T0,
                        transient=True)  # fmt: skip
    first.pause_entries("reject storm", "reject storm: 5 in a row", now=T0, strategy_id="s1",
                        resumable=True)  # fmt: skip
    journal.close()
    journal = Journal(path)
    journal.begin_run(now=T0, account="DU1", mode="paper", dry_run=False)
    again = RiskManager(RiskConfig(), journal)
    again.restore(T0)
    assert again.not_active(T0) == ["s1 REDUCING (reject storm: 5 in a row)"]
    held = [(scope, kind) for scope, kind, reason, _ in journal.reads.risk_states()
            if reason.startswith("connectivity")]  # fmt: skip
    assert held == [(None, "hold")]  # journalled
    journal.close()


# ---- the staleness watchdog ---------------------------------------------------------------------


def stream(symbol: str = "AAPL") -> tuple[StreamKey, SimpleNamespace]:
    key = StreamKey(symbol, 1, "1 min", 60, "TRADES", True)
    return key, SimpleNamespace(warming=False, last_data=T0, subscribed_at=T0 - timedelta(hours=1))


async def test_a_silent_stream_is_resubscribed_then_its_entries_pause(risk: RiskManager) -> None:
    key, s = stream()
    restarted: list[list[StreamKey]] = []

    async def restart(keys: list[StreamKey]) -> None:
        restarted.append(keys)
        s.subscribed_at = now

    session = ((T0 - timedelta(hours=4), T0 + timedelta(hours=2)),)
    infos = {"AAPL": SymbolInfo("AAPL", Contract(conId=1), 0.01, NY, session)}
    dog = StaleWatchdog(lambda: {key: s}, infos, risk, restart, WatchdogSettings(pause_after=2))
    now = T0 + timedelta(seconds=119)
    assert await dog.check(now) == []  # under 2 bar intervals
    now = T0 + timedelta(seconds=121)
    assert await dog.check(now) == [key] and not risk.states
    now += timedelta(seconds=121)
    assert await dog.check(now) == [key] and risk.paused("stale data", symbol="AAPL")
    assert "stale data on AAPL: 1 min bars silent for 2m01s" in risk.state(None, now).reason
    s.last_data = now + timedelta(seconds=5)  # data again
    assert await dog.check(now + timedelta(seconds=10)) == []
    assert not risk.states and dog.strikes == {}
    # Outside liquid hours silence is not staleness.
    assert await dog.check(T0 + timedelta(hours=3)) == []
