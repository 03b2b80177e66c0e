"""``bars.source: keep_up_to_date`` end to end: live bars from ``reqHistoricalData(keepUpToDate)``
on the simulated gateway, each reaching the strategy once, closed, equal to the gateway's own
1-minute bars, and traded on like real-time-built bars."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, timedelta
from pathlib import Path

import e2e_strategies
import pytest
from e2e_support import PAPER, START, advance, scripted, start_gateway, write_config
from support.waiting import wait_until

from bot.config.load import load_config
from bot.gateway.server import Gateway
from bot.live.daemon import Daemon, RunOptions

STEPS = [
    {"bar": 1, "symbol": "AAPL", "kind": "buy", "qty": 10, "tag": "e1"},
    {"bar": 3, "symbol": "AAPL", "kind": "sell", "qty": 10, "tag": "x1"},
]


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = await start_gateway()
    yield gw
    await gw.stop()


async def test_keep_up_to_date_bars_reach_the_strategy_once_each_when_closed(
    gateway: Gateway, tmp_path: Path
) -> None:
    strategy_cfg = scripted("s1", STEPS)
    strategy_cfg["bars"]["source"] = "keep_up_to_date"
    path = write_config(tmp_path, gateway.port, [strategy_cfg], client_id=51)
    daemon = Daemon(load_config(path), RunOptions(handle_signals=False, print_summary=False))
    task = asyncio.create_task(daemon.run())
    await wait_until(lambda: task.done() or (daemon.ready is not None and daemon.ready.is_set()),
                     what="daemon ready")  # fmt: skip
    assert not task.done(), daemon.stop_reason
    assert daemon.feed is not None and daemon.feed.warmup_bars == 2 * 30  # 13:30 .. 13:59
    assert all(s.rt is None and s.hist is not None for s in daemon.feed.streams.values())
    assert daemon.router is not None
    strategy = daemon.router.slots["s1"].strategy
    assert isinstance(strategy, e2e_strategies.Scripted)
    await advance(gateway, 5)
    await gateway.advance(timedelta(seconds=10))  # 14:05:10: the 14:05 bars have started
    await wait_until(lambda: len(strategy.bars) >= 10, what="5 bars per symbol")
    await wait_until(lambda: daemon.router.counters.fills >= 2, what="2 fills")  # type: ignore[union-attr]
    daemon.request_stop("test over")
    assert await asyncio.wait_for(task, 5) == 0

    market = gateway.market
    for sym in ("AAPL", "MSFT"):
        got = [b for b in strategy.bars if b.symbol == sym]
        # Once each, in order, right after the warm-up's 13:59; 14:05 is in progress: not seen.
        assert [b.time for b in got] == [START + timedelta(minutes=m) for m in range(5)]
        # Closed bars: exactly the gateway's own 1-minute bars, never a partial one.
        con_id = gateway.instruments.by_symbol(sym).con_id
        end = START + timedelta(minutes=5)
        ref = market.history.historical_bars(con_id, end, "300 S", "1 min", "TRADES", True, end)
        assert [(b.date.astimezone(UTC), b.open, b.high, b.low, b.close, b.volume)
                for b in ref] == [(b.time, b.open, b.high, b.low, b.close, b.volume)
                                  for b in got]  # fmt: skip
    execs = [(r.contract.symbol, r.execution.side, r.execution.shares)
             for r in gateway.broker.executions(PAPER)]  # fmt: skip
    assert execs == [("AAPL", "BOT", 10), ("AAPL", "SLD", 10)]
