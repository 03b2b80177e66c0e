"""The fault matrix, each fault on its own, the daemon in-process against the simulated
gateway's fault injection: after each, the bot's positions equal the broker's, live bars flow
again within 2 bar intervals of the fault's end, every bar of the market reached the strategy
exactly once, in order (warm-up or live), and IB never answered 162."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from datetime import datetime
from pathlib import Path

import pytest
from e2e_support import PAPER, journal_rows, scripted, start_gateway, write_config
from fault_support import (
    FAST_IB,
    Run,
    check_invariants,
    occupy,
    start_run,
    until_trading,
    walk,
    walk_in_step,
)
from support.waiting import wait_until

from bot.config.load import load_config
from bot.gateway.server import Gateway
from bot.live.daemon import Daemon, RunOptions
from bot.live.supervisor import ConnState

STEPS = [
    {"bar": 1, "symbol": "AAPL", "kind": "buy", "qty": 10, "tag": "e1"},
    {"bar": 2, "symbol": "MSFT", "kind": "buy", "qty": 5, "tag": "e2"},
    {"bar": 7, "symbol": "AAPL", "kind": "sell", "qty": 4, "tag": "x1"},
]

Fault = Callable[[Gateway, Run], Awaitable[datetime]]  # fires a fault; returns when it ended


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = await start_gateway()
    yield gw
    await gw.stop()


async def socket_drop(gw: Gateway, run: Run) -> datetime:
    gw.fault("disconnect_all")
    await wait_until(lambda: run.daemon.supervisor.state is ConnState.RECONNECTING,  # type: ignore[union-attr]
                     what="the supervisor reconnecting")  # fmt: skip
    return gw.clock.now()


async def restart(gw: Gateway, run: Run) -> datetime:
    gw.fault("restart", seconds=30)
    await walk(gw, 30, pause=0.03)  # refused meanwhile: the backoff keeps trying
    return gw.clock.now()


def connectivity(data: str) -> Fault:
    async def fault(gw: Gateway, run: Run) -> datetime:
        gw.fault("connectivity_lost")
        await wait_until(lambda: run.daemon.supervisor.state is ConnState.IB_LOST,  # type: ignore[union-attr]
                         what="1100 seen")  # fmt: skip
        assert run.daemon.router is not None and run.daemon.router.risk.paused("connectivity")
        await walk(gw, 120)
        gw.fault("connectivity_restored", data=data)
        return gw.clock.now()

    return fault


async def farm(gw: Gateway, run: Run) -> datetime:
    gw.fault("farm_broken", farm="market")
    await walk(gw, 120)
    gw.fault("farm_ok", farm="market")
    return gw.clock.now()


async def data_stopped(gw: Gateway, run: Run) -> datetime:
    gw.fault("stop_data")
    await walk(gw, 180, pause=0.03)  # silent 2 bar intervals: the watchdog resubscribes
    assert run.daemon.watchdog is not None and run.daemon.watchdog.resubscribes >= 1
    gw.fault("resume_data")
    return gw.clock.now()


FAULTS = {
    "socket drop": socket_drop,
    "gateway restart refusing connections": restart,
    "1100 then 1101": connectivity("lost"),
    "1100 then 1102": connectivity("kept"),
    "market farm broken then OK": farm,
    "data stopped": data_stopped,
}


@pytest.mark.parametrize("name", list(FAULTS))
async def test_a_fault_keeps_every_invariant(
    name: str, gateway: Gateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    run = await start_run(gateway, tmp_path, STEPS)
    await walk(gateway, 150)  # 14:00 .. 14:02:30: both entries filled
    end = await FAULTS[name](gateway, run)
    await until_trading(run)
    await walk_in_step(run, gateway, 120)
    await check_invariants(run, gateway, end, caplog.text)
    assert run.daemon.router is not None and not run.daemon.router.risk.states
    assert await run.stop() == 0


async def test_a_socket_drop_pauses_entries_and_logs_the_transitions(
    gateway: Gateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    run = await start_run(gateway, tmp_path, STEPS)
    await walk(gateway, 30)
    await socket_drop(gateway, run)
    await until_trading(run)
    assert "connection: connected -> reconnecting (socket lost)" in caplog.text
    assert "connection: reconnecting -> connected (reconnected after" in caplog.text
    assert await run.stop() == 0
    events = journal_rows(tmp_path / "journal.sqlite", "SELECT kind, message FROM events")
    assert ("connection", "connected -> reconnecting: socket lost") in events


async def test_a_reject_storm_pauses_the_strategys_entries(
    gateway: Gateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    buys = [{"bar": n, "symbol": "MSFT", "kind": "buy", "qty": 1, "tag": f"b{n}"}
            for n in range(1, 10)]  # fmt: skip
    gateway.fault("reject_orders", symbol="MSFT", text="No trading permissions")
    run = await start_run(gateway, tmp_path, buys)
    await walk(gateway, 600)
    router = run.daemon.router
    assert router is not None
    slot = router.slots["s1"]
    assert slot.broker_rejections_in_a_row == 5  # then the gate refused the rest
    assert router.risk.paused("reject storm", strategy_id="s1")
    gateway.fault("clear_rejects")
    end = gateway.clock.now()
    await walk_in_step(run, gateway, 120)
    await check_invariants(run, gateway, end, caplog.text)
    assert gateway.broker.executions(PAPER) == []
    assert await run.stop() == 0
    reasons = [r for (r,) in journal_rows(tmp_path / "journal.sqlite",
               "SELECT reason FROM risk_events WHERE kind = 'rejection'")]  # fmt: skip
    assert sum(r.startswith("IB rejected") for r in reasons) == 5
    bars = [b for b in run.strategy.bars if b.symbol == "MSFT"]
    storm = "s1 is REDUCING (reject storm: 5 broker rejections"
    refused = sum(r.startswith(storm) for r in reasons)
    assert refused == min(len(bars), len(buys)) - 5 > 0  # journalled by the stop


async def test_client_id_in_use_takes_the_next_one(
    gateway: Gateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    async with occupy(gateway, 61):
        run = await start_run(gateway, tmp_path, STEPS, client_id=61)
        assert run.daemon.client_id == 62
        assert "client id 61 is in use (326); trying the next" in caplog.text
        end = gateway.clock.now()
        await walk_in_step(run, gateway, 150)
        await check_invariants(run, gateway, end, caplog.text)
        assert await run.stop() == 0


async def test_every_client_id_in_use_stops_with_a_clear_error(
    gateway: Gateway, tmp_path: Path
) -> None:
    async with occupy(gateway, 61), occupy(gateway, 62), occupy(gateway, 63):
        path = write_config(tmp_path, gateway.port, [scripted("s1", STEPS)], client_id=61,
                            ib=FAST_IB)  # fmt: skip
        daemon = Daemon(load_config(path), RunOptions(handle_signals=False, print_summary=False))
        assert await daemon.run() == 1
        assert "client id 61..63 are all in use (error 326)" in daemon.stop_reason
