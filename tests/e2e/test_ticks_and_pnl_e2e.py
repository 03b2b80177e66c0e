"""Tick-by-tick ticks and IB's own P&L, end to end: the daemon in-process against the simulated
gateway on a manual clock.

- a strategy with ``ticks: {kind: tick_by_tick, what: ...}`` gets that kind of tick (and no
  market data) and trades on them;
- IB's reqPnL / reqPnLSingle figures reach the daemon and match the simulated account's, again
  after a reconnect, and show in the status line and the summary;
- ``opening_range_breakout`` with ``pnl_source: ib`` kills on IB's P&L from the gateway (here a
  position another strategy holds on its symbol), where ``pnl_source: own`` does not.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import e2e_strategies  # registers e2e_scripted and e2e_tick_trader
import pytest
from e2e_support import PAPER, START, advance, scripted, start_gateway, write_config
from support.waiting import wait_until
from test_daemon_inprocess import start_daemon, stop

from bot.gateway.server import Gateway

TBT_KIND = {"Last": 1, "AllLast": 2, "BidAsk": 3, "MidPoint": 4}  # the gateway's TickSub.kind


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = await start_gateway()
    yield gw
    await gw.stop()


def tick_trader(what: str) -> dict[str, Any]:
    return {
        "id": "tt",
        "class": "e2e_tick_trader",
        "symbols": ["AAPL", "MSFT"],
        "bars": {"size": "1 min", "warmup": "1 D"},
        "ticks": {"kind": "tick_by_tick", "what": what},
        "sizing": {"fixed": 1},
    }


def _con_id(daemon: Any, symbol: str) -> int:
    return int(daemon.infos[symbol].contract.conId)


@pytest.mark.parametrize("what", ["AllLast", "BidAsk", "MidPoint"])
async def test_a_tick_by_tick_strategy_gets_its_ticks_and_trades_on_them(
    gateway: Gateway, tmp_path: Path, what: str
) -> None:
    daemon, task = await start_daemon(write_config(tmp_path, gateway.port, [tick_trader(what)]))
    subs = [s for subs in gateway.streams.ticks.values() for s in subs]
    assert sorted(s.kind for s in subs) == [TBT_KIND[what]] * 2  # no market data
    await advance(gateway, 2)
    assert daemon.router is not None
    await wait_until(lambda: daemon.router.counters.fills >= 2, what="a fill per symbol")  # type: ignore[union-attr]
    strategy = daemon.router.slots["tt"].strategy
    assert isinstance(strategy, e2e_strategies.TickTrader)
    assert await stop(daemon, task) == 0

    ticks = strategy.ticks
    assert {t.symbol for t in ticks} == {"AAPL", "MSFT"}
    assert all(START <= t.time <= START + timedelta(minutes=2) for t in ticks)
    if what == "AllLast":  # every trade of the market, in order, one tick each
        assert all(math.isnan(t.bid) and math.isnan(t.ask) for t in ticks)
        aapl = _con_id(daemon, "AAPL")
        prints = [(m.last, m.last_size) for m in gateway.market.ticks(START, daemon.clock.now())
                  if m.con_id == aapl]  # fmt: skip
        got = [(t.last, t.last_size) for t in ticks if t.symbol == "AAPL"]
        assert len(got) > 10 and got == prints[: len(got)]
    elif what == "BidAsk":
        assert all(0 < t.bid < t.ask and math.isnan(t.last) for t in ticks)
    else:
        assert all(t.midpoint > 0 and math.isnan(t.bid + t.ask + t.last) for t in ticks)
    execs = sorted((r.contract.symbol, r.execution.side, r.execution.shares)
                   for r in gateway.broker.executions(PAPER))  # fmt: skip
    assert execs == [("AAPL", "BOT", 1), ("MSFT", "BOT", 1)]
    assert [f.tag for f in strategy.fills] == ["t1", "t1"]


def _ib_matches_the_account(daemon: Any, gw: Gateway) -> bool:
    pnl = daemon.ib_pnl
    books = gw.broker.account(PAPER)
    singles = [books.pnl_single(_con_id(daemon, s)).daily for s in ("AAPL", "MSFT")]
    account = books.pnl().daily
    return (
        pnl.daily(["AAPL"]) == pytest.approx(singles[0], abs=1e-9)
        and pnl.daily(["MSFT"]) == pytest.approx(singles[1], abs=1e-9)
        and pnl.account_daily() == pytest.approx(account, abs=1e-9)
    )


async def test_ibs_pnl_arrives_matches_the_account_and_comes_back_after_a_reconnect(
    gateway: Gateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="bot.live.ib_pnl")
    steps = [
        {"bar": 1, "symbol": "AAPL", "kind": "buy", "qty": 10, "tag": "e1"},
        {"bar": 2, "symbol": "MSFT", "kind": "buy", "qty": 5, "tag": "e2"},
    ]
    path = write_config(tmp_path, gateway.port, [scripted("s1", steps)], client_id=41,
                        ib={"reconnect": {"initial": 0.2, "jitter": 0}})  # fmt: skip
    daemon, task = await start_daemon(path)
    assert daemon.router is not None and daemon.ib_pnl is not None
    await advance(gateway, 4)
    await wait_until(lambda: daemon.router.counters.fills >= 2, what="2 fills")  # type: ignore[union-attr]
    await wait_until(lambda: _ib_matches_the_account(daemon, gateway), what="IB's P&L")
    # A real figure: positions and commissions.
    assert gateway.broker.account(PAPER).pnl().daily != 0
    # The strategy reads the same through its context (both its symbols).
    ctx = daemon.router.slots["s1"].ctx
    assert ctx.ib_pnl_today() == pytest.approx(daemon.ib_pnl.daily(["AAPL", "MSFT"]))
    ib_account = daemon.ib_pnl.account_daily()
    assert ib_account is not None
    assert f"(IB {ib_account:+.2f})" in daemon.status()
    # IB and the bot agree within the commissions paid: no warning.
    assert not [r for r in caplog.records if r.name == "bot.live.ib_pnl"]

    gateway.sessions[41].close()
    await wait_until(lambda: not daemon.ib.isConnected(), what="disconnect seen")
    await wait_until(lambda: daemon.ib.isConnected() and daemon.feed.started, what="reconnect")  # type: ignore[union-attr]
    assert daemon.ib.pnl(PAPER) and len(daemon.ib.pnlSingle(PAPER)) == 2  # subscribed again
    await advance(gateway, 1)
    await wait_until(lambda: _ib_matches_the_account(daemon, gateway), what="IB's P&L again")
    assert await stop(daemon, task) == 0
    assert "IB today" in daemon.summary and "PnL today: " in daemon.summary


def orb(sid: str, pnl_source: str) -> dict[str, Any]:
    return {
        "id": sid,
        "class": "opening_range_breakout",
        "symbols": ["AAPL"],
        "bars": {"size": "5 mins", "warmup": "2 D"},
        # Any P&L at all reaches these limits: the daily kill shows which P&L it read.
        "params": {"pnl_source": pnl_source, "max_daily_loss": 0.01, "max_daily_profit": 0.01},
        "sizing": {"fixed": 1},
    }


async def test_orb_with_pnl_source_ib_kills_on_ibs_pnl_from_the_gateway(
    gateway: Gateway, tmp_path: Path
) -> None:
    # A position on AAPL the ORB strategies did not trade: IB's pnlSingle counts it, their own
    # P&L does not.
    holder = scripted("holder", [{"bar": 1, "symbol": "AAPL", "kind": "buy", "qty": 10,
                                  "tag": "h1"}], symbols=["AAPL"])  # fmt: skip
    strategies = [holder, orb("orb_ib", "ib"), orb("orb_own", "own")]
    path = write_config(tmp_path, gateway.port, strategies, client_id=42)
    daemon, task = await start_daemon(path)
    assert daemon.router is not None
    await advance(gateway, 2)
    await wait_until(lambda: daemon.router.counters.fills >= 1, what="the holder's fill")  # type: ignore[union-attr]
    await advance(gateway, 11)  # two 5-minute bars close after it
    risk = daemon.router.risk  # the daily kill is the risk stage's (strategies[i].risk)
    await wait_until(lambda: bool(risk.not_active(daemon.clock.now())), what="a daily kill")  # type: ignore[attr-defined]
    held = risk.not_active(daemon.clock.now())  # type: ignore[attr-defined]
    assert await stop(daemon, task) == 0
    assert len(held) == 1 and held[0].startswith("orb_ib ") and "daily" in held[0], held


async def test_two_tick_kinds_on_one_symbol_is_bad_input(gateway: Gateway, tmp_path: Path) -> None:
    quotes = {**tick_trader("BidAsk"), "id": "quotes"}
    market = {**tick_trader("AllLast"), "id": "market", "ticks": True}
    daemon, task = await start_daemon(write_config(tmp_path, gateway.port, [quotes, market]))
    assert await asyncio.wait_for(task, 5) == 2
    assert daemon.stop_reason == (
        "market: ticks on AAPL as market data, but quotes reads them as tick-by-tick BidAsk; "
        "strategies sharing a symbol must ask for the same ticks"
    )
    assert gateway.broker.executions(PAPER) == []


async def test_more_subscriptions_than_market_data_lines_is_bad_input(
    gateway: Gateway, tmp_path: Path
) -> None:
    trader = tick_trader("AllLast")  # AAPL and MSFT: 2 bar streams and 2 tick subscriptions
    path = write_config(tmp_path, gateway.port, [trader], ib={"max_data_lines": 3})
    daemon, task = await start_daemon(path)
    assert await asyncio.wait_for(task, 5) == 2
    assert daemon.stop_reason.startswith("the strategies need 4 market-data lines")
    assert "ib.max_data_lines is 3: no line for MSFT ticks" in daemon.stop_reason
    assert gateway.broker.executions(PAPER) == []
