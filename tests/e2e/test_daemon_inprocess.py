"""``ibbot run`` in-process against the simulated gateway on a manual clock: exact orders and
fills from a scripted strategy, a bracket, dry run, the paper guard, a crashing strategy."""

from __future__ import annotations

import asyncio
import gc
import logging
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import e2e_strategies  # registers e2e_scripted and e2e_crash
import pytest
from e2e_support import (
    PAPER,
    START,
    advance,
    journal_rows,
    scripted,
    start_gateway,
    write_config,
)
from support.waiting import wait_until

from bot.config.load import load_config
from bot.gateway.server import Gateway
from bot.live.daemon import Daemon, RunOptions
from bot.market_data.history_pacing import HistoryLimits

STEPS = [
    {"bar": 1, "symbol": "AAPL", "kind": "buy", "qty": 10, "tag": "e1"},
    {"bar": 2, "symbol": "MSFT", "kind": "bracket", "qty": 5, "tag": "br"},
    {"bar": 3, "symbol": "AAPL", "kind": "sell", "qty": 10, "tag": "x1"},
]


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = await start_gateway()
    yield gw
    await gw.stop()


async def start_daemon(path: Path, **opts: Any) -> tuple[Daemon, asyncio.Task[int]]:
    daemon = Daemon(
        load_config(path), RunOptions(handle_signals=False, print_summary=False, **opts)
    )
    task = asyncio.create_task(daemon.run())
    await wait_until(lambda: task.done() or (daemon.ready is not None and daemon.ready.is_set()),
                     what="daemon ready")  # fmt: skip
    return daemon, task


async def stop(daemon: Daemon, task: asyncio.Task[int]) -> int:
    daemon.request_stop("test over")
    return await asyncio.wait_for(task, 5)


async def test_scripted_strategy_gets_exactly_its_orders_and_fills(
    gateway: Gateway, tmp_path: Path
) -> None:
    strategy_cfg = scripted("s1", STEPS)
    strategy_cfg["params"]["ticks"] = True
    path = write_config(tmp_path, gateway.port, [strategy_cfg])
    daemon, task = await start_daemon(path)
    assert daemon.feed is not None and daemon.feed.warmup_bars == 2 * 30  # 13:30 .. 13:59
    await advance(gateway, 5)
    assert daemon.router is not None
    await wait_until(lambda: daemon.router.counters.fills >= 3, what="3 fills")  # type: ignore[union-attr]
    strategy = daemon.router.slots["s1"].strategy
    assert isinstance(strategy, e2e_strategies.Scripted)
    assert await stop(daemon, task) == 0
    await wait_until(lambda: not gateway.broker.open_orders(PAPER), what="cancel_on_stop")

    # Each bar once, when closed: 14:00 .. 14:04 per symbol, right after the warm-up's 13:59.
    for sym in ("AAPL", "MSFT"):
        times = [b.time for b in strategy.bars if b.symbol == sym]
        assert times == [START + timedelta(minutes=m) for m in range(5)]
    # Ticks too, stamped with market time (the replay's, not the wall clock's).
    assert {t.symbol for t in strategy.ticks} == {"AAPL", "MSFT"}
    assert all(START <= t.time <= START + timedelta(minutes=5) for t in strategy.ticks)
    # Exactly the scripted executions at the broker, and the same fills at the strategy.
    execs = [(r.contract.symbol, r.execution.side, r.execution.shares)
             for r in gateway.broker.executions(PAPER)]  # fmt: skip
    assert execs == [("AAPL", "BOT", 10), ("MSFT", "BOT", 5), ("AAPL", "SLD", 10)]
    assert [(f.symbol, f.tag, f.side.value, f.quantity) for f in strategy.fills] == [
        ("AAPL", "e1", "BUY", 10), ("MSFT", "br", "BUY", 5), ("AAPL", "x1", "SELL", 10),
    ]  # fmt: skip
    # The bracket: parent + LMT take-profit + STP stop, children on the parent, cancelled at stop.
    done = {s.order.orderRef.split(":")[3]: s for s in gateway.broker.completed_orders(PAPER)}
    assert sorted(done) == ["br", "br.sl", "br.tp", "e1", "x1"]
    parent, tp, sl = done["br"], done["br.tp"], done["br.sl"]
    assert (tp.order.orderType, sl.order.orderType) == ("LMT", "STP")
    assert tp.order.parentId == sl.order.parentId == parent.order.orderId
    assert (tp.status, sl.status) == ("Cancelled", "Cancelled")
    # The journal saw the same.
    journal = tmp_path / "journal.sqlite"
    fills = journal_rows(journal, "SELECT symbol, tag, side, quantity FROM fills ORDER BY time")
    assert fills == [
        ("AAPL", "e1", "BUY", 10),
        ("MSFT", "br", "BUY", 5),
        ("AAPL", "x1", "SELL", 10),
    ]
    (ended,) = journal_rows(journal, "SELECT ended FROM runs")
    assert ended[0] is not None


async def test_dry_run_sends_nothing(gateway: Gateway, tmp_path: Path) -> None:
    path = write_config(tmp_path, gateway.port, [scripted("s1", STEPS)], dry_run=True)
    daemon, task = await start_daemon(path)
    await advance(gateway, 5)
    assert daemon.router is not None
    await wait_until(lambda: daemon.router.counters.fills >= 3, what="3 dry fills")  # type: ignore[union-attr]
    assert await stop(daemon, task) == 0
    assert gateway.broker.executions(PAPER) == []
    assert gateway.broker.open_orders(PAPER) == [] and gateway.broker.completed_orders(PAPER) == []
    assert not (tmp_path / "journal.sqlite").exists()
    dry = tmp_path / "journal.dry.sqlite"
    assert journal_rows(dry, "SELECT symbol, tag, quantity FROM fills ORDER BY time") == [
        ("AAPL", "e1", 10), ("MSFT", "br", 5), ("AAPL", "x1", 10),
    ]  # fmt: skip


@pytest.mark.parametrize("scale", [None, 0.01])
async def test_history_pacing_scale_sets_the_feeds_governor(
    gateway: Gateway, tmp_path: Path, scale: float | None
) -> None:
    ib = {} if scale is None else {"history_pacing_scale": scale}
    path = write_config(tmp_path, gateway.port, [scripted("s1", [])], ib=ib)
    daemon, task = await start_daemon(path)
    assert daemon.feed is not None
    assert daemon.feed.governor.limits == HistoryLimits().scaled(scale or 1.0)
    assert await stop(daemon, task) == 0


async def test_a_crashing_strategy_does_not_stop_the_others(
    gateway: Gateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    crash = {"id": "crashy", "class": "e2e_crash", "symbols": ["AAPL"],
             "bars": {"size": "1 min", "warmup": "1 D"}, "sizing": {"fixed": 1}}  # fmt: skip
    path = write_config(tmp_path, gateway.port, [crash, scripted("s1", STEPS)])
    caplog.set_level(logging.INFO)
    daemon, task = await start_daemon(path)
    await advance(gateway, 5)
    assert daemon.router is not None
    await wait_until(lambda: daemon.router.counters.fills >= 3, what="3 fills")  # type: ignore[union-attr]
    slots = daemon.router.slots
    assert await stop(daemon, task) == 0
    assert not slots["crashy"].enabled and slots["crashy"].errors == 1
    assert slots["s1"].enabled and slots["s1"].bars == 10
    assert "strategy crashy raised on bar Bar(symbol='AAPL'" in caplog.text
    assert "e2e_crash on purpose at 14:00" in caplog.text
    events = journal_rows(tmp_path / "journal.sqlite", "SELECT kind, strategy_id FROM events")
    assert ("strategy_error", "crashy") in events
    assert len(gateway.broker.executions(PAPER)) == 3


async def test_the_guard_refuses_a_non_paper_account(tmp_path: Path) -> None:
    gw = await start_gateway(account="U1234567")
    try:
        path = write_config(tmp_path, gw.port, [scripted("s1", STEPS)])
        daemon = Daemon(load_config(path), RunOptions(handle_signals=False, print_summary=False))
        code = await asyncio.wait_for(daemon.run(), 10)
        assert code == 2
        assert "refusing to trade account U1234567" in daemon.stop_reason
        assert gw.broker.open_orders("U1234567") == []
        assert gw.broker.completed_orders("U1234567") == []
    finally:
        await gw.stop()


async def test_an_unknown_symbol_is_bad_input(gateway: Gateway, tmp_path: Path) -> None:
    path = write_config(tmp_path, gateway.port, [scripted("s1", [], symbols=["ZZZZ"])],
                        symbols=("ZZZZ",))  # fmt: skip
    daemon = Daemon(load_config(path), RunOptions(handle_signals=False, print_summary=False))
    assert await asyncio.wait_for(daemon.run(), 10) == 2
    assert "ZZZZ: IB knows no such contract" in daemon.stop_reason


async def test_reconnect_resubscribes_reconciles_and_never_repeats_a_bar(
    gateway: Gateway, tmp_path: Path
) -> None:
    steps = [*STEPS[:2], {"bar": 5, "symbol": "AAPL", "kind": "sell", "qty": 10, "tag": "x1"}]
    path = write_config(tmp_path, gateway.port, [scripted("s1", steps)], client_id=31,
                        ib={"reconnect": {"initial": 0.2, "jitter": 0}})  # fmt: skip
    daemon, task = await start_daemon(path)
    await advance(gateway, 3)  # 14:00 .. 14:02 live; e1 and the bracket placed
    assert daemon.router is not None and daemon.executor is not None
    await wait_until(lambda: daemon.router.counters.fills >= 2, what="2 fills")  # type: ignore[union-attr]
    gateway.sessions[31].close()  # the gateway drops the connection
    await wait_until(lambda: not daemon.ib.isConnected(), what="disconnect seen")
    await advance(gateway, 2)  # 14:03 .. 14:04 pass while the bot is away
    await wait_until(lambda: daemon.ib.isConnected() and daemon.feed.started, what="reconnect")  # type: ignore[union-attr]
    # The bracket's children, working at the broker, were adopted again.
    assert set(daemon.executor.working_orders("s1", "MSFT")) == {"br.tp", "br.sl"}
    await advance(gateway, 3)
    await wait_until(lambda: daemon.router.counters.fills >= 3, what="3rd fill")  # type: ignore[union-attr]
    strategy = daemon.router.slots["s1"].strategy
    assert isinstance(strategy, e2e_strategies.Scripted)
    assert await stop(daemon, task) == 0
    for sym in ("AAPL", "MSFT"):
        times = [b.time for b in strategy.bars if b.symbol == sym]
        assert times == sorted(set(times))  # never twice, never backwards
        # Bars that closed while away were warm-up (indicators only), not traded on.
        assert START + timedelta(minutes=3) not in times
        assert times[-1] >= START + timedelta(minutes=6)
    execs = [(r.contract.symbol, r.execution.side, r.execution.shares)
             for r in gateway.broker.executions(PAPER)]  # fmt: skip
    assert execs == [("AAPL", "BOT", 10), ("MSFT", "BOT", 5), ("AAPL", "SLD", 10)]


async def test_no_gateway_is_a_runtime_failure(tmp_path: Path) -> None:
    gw = await start_gateway()
    port = gw.port
    await gw.stop()  # nothing listens there any more
    path = write_config(tmp_path, port, [scripted("s1", STEPS)])
    daemon = Daemon(load_config(path), RunOptions(handle_signals=False, print_summary=False))
    assert await asyncio.wait_for(daemon.run(), 10) == 1
    assert daemon.stop_reason == "connection failed"


async def test_a_stop_during_start_up_is_a_clean_exit(gateway: Gateway, tmp_path: Path) -> None:
    path = write_config(tmp_path, gateway.port, [scripted("s1", STEPS)])
    daemon = Daemon(load_config(path), RunOptions(handle_signals=False, print_summary=False))
    task = asyncio.create_task(daemon.run())
    await asyncio.sleep(0)
    daemon.request_stop("signal SIGTERM")
    assert await asyncio.wait_for(task, 5) == 0
    assert daemon.ready is not None and not daemon.ready.is_set()


async def test_ibbot_run_freezes_what_start_up_made_before_trading(
    gateway: Gateway, tmp_path: Path
) -> None:
    """``ibbot run``'s option: once live, start-up's objects are out of the collector's sight
    (a full collection on the order path then walks only what trading made)."""
    path = write_config(tmp_path, gateway.port, [scripted("s1", STEPS)])
    gc.unfreeze()
    try:
        daemon, task = await start_daemon(path, freeze_startup=True)
        frozen = gc.get_freeze_count()
        assert await stop(daemon, task) == 0
    finally:
        gc.unfreeze()  # this test process goes on: give it back its objects
    assert frozen > 10_000, f"only {frozen} objects frozen"
    assert not RunOptions().freeze_startup  # tests and tools share their process: off
