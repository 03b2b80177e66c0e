"""Positions restored from the journal, end to end: trusted only when the account agrees.

The embedded gateway is a new simulated world each run, so a second demo run on the same
journal starts flat. Against a real connection (here the simulated gateway on its own) the
journal's book is the account's; when the account disagrees (here: shares sold by hand) the
daemon refuses to trade with exit 2 and sends nothing, until the operator passes
``--reset-positions``.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import e2e_strategies  # noqa: F401  (registers e2e_scripted)
import pytest
from e2e_support import PAPER, ROOT, advance, journal_rows, scripted, start_gateway
from e2e_support import write_config as _write_config
from ib_insync import IB, MarketOrder, Stock
from support.waiting import wait_until

from bot.cli import main
from bot.config.load import load_config
from bot.gateway.server import Gateway
from bot.live.daemon import Daemon, RunOptions

BUY_AND_HOLD = [{"bar": 1, "symbol": "AAPL", "kind": "buy", "qty": 10, "tag": "e1"}]


def write_config(tmp: Path, port: int) -> Path:
    return _write_config(tmp, port, [scripted("s1", BUY_AND_HOLD)], client_id=41)


def options(**kw: Any) -> RunOptions:
    return RunOptions(handle_signals=False, print_summary=False, **kw)


async def run_until_filled(path: Path, gw: Gateway, **kw: Any) -> Daemon:
    """A run that trades the script's one buy, then stops cleanly."""
    daemon = Daemon(load_config(path), options(**kw))
    task = asyncio.create_task(daemon.run())
    await wait_until(lambda: task.done() or (daemon.ready is not None and daemon.ready.is_set()),
                     what="daemon ready")  # fmt: skip
    assert not task.done(), daemon.stop_reason
    for _ in range(10):  # the market moves on until the buy has filled (minutes, not forever)
        await advance(gw, 1)
        # two round trips, as in lockstep: the daemon read the minute, the gateway its orders
        await daemon.venue.current_time()
        await daemon.venue.current_time()
        if daemon.router is not None and daemon.router.counters.fills >= 1:
            break
    assert daemon.router is not None and daemon.router.counters.fills == 1
    daemon.request_stop("test over")
    assert await asyncio.wait_for(task, 5) == 0
    return daemon


def account(gw: Gateway) -> dict[str, float]:
    rows = gw.broker.account(PAPER).position_rows()
    return {p.contract.symbol: p.position for p in rows if p.position}


def mismatch(path: Path, held: float) -> str:
    return (
        f"refusing to trade: the journal's positions disagree with account {PAPER} at IB\n"
        f"  AAPL: strategies hold {held:g} (s1 {held:g}); IB reports 0\n"
        f"Journal: {path}. Nothing was sent. Find out why (trades by hand, another program on "
        "this account, a restarted gateway, another journal file), then run again with "
        "--reset-positions to start the strategies flat on these symbols (journalled)."
    )


# ---- the demo, twice, on one journal --------------------------------------------------------


async def run_demo(journal: Path) -> Daemon:
    """``ibbot run config/demo.yaml`` in-process, as fast as the bot reads, 09:30-11:00."""
    cfg = load_config(ROOT / "config" / "demo.yaml")
    assert cfg.gateway is not None
    cfg = cfg.model_copy(
        update={
            "gateway": cfg.gateway.model_copy(update={"speed": 0}),
            "journal": cfg.journal.model_copy(update={"path": journal}),
        }
    )
    daemon = Daemon(cfg, options(gateway_end=datetime.fromisoformat("2026-10-30T15:00Z")))
    assert await asyncio.wait_for(daemon.run(), 60) == 0
    assert daemon.stop_reason == "end of the simulated gateway's data"
    return daemon


def executions(daemon: Daemon) -> list[tuple[str, str, float]]:
    return [(r.contract.symbol, r.execution.side, r.execution.shares)
            for r in daemon.gateway.broker.executions(PAPER)]  # fmt: skip


async def test_a_second_demo_run_starts_flat_in_its_new_simulated_world(tmp_path: Path) -> None:
    journal = tmp_path / "demo.sqlite"
    first = await run_demo(journal)
    assert first.executor is not None
    held = first.executor.positions()
    assert held, "the span must end holding something, or there is nothing to restore"
    assert account(first.gateway) == {sym: q for (_, sym), q in held.items()}

    second = await run_demo(journal)
    # Nothing of the first world was restored: the second run trades exactly like the first
    # (same data, same seed), never selling shares it does not hold.
    assert executions(second) == executions(first)
    running: dict[str, float] = {}
    for sym, side, qty in executions(second):
        running[sym] = running.get(sym, 0.0) + (qty if side == "BOT" else -qty)
        assert running[sym] >= 0, f"{sym} went short: {running[sym]}"
    assert second.executor is not None and second.executor.positions() == held
    assert account(second.gateway) == account(first.gateway)
    # Two worlds in one journal: each run its own identity, both runs' fills kept whole.
    runs = journal_rows(journal, "SELECT broker FROM runs ORDER BY id")
    assert len(runs) == 2 and all(b.startswith("sim:") for (b,) in runs) and runs[0] != runs[1]
    per_run = journal_rows(journal, "SELECT run_id, COUNT(*) FROM fills GROUP BY run_id")
    assert [n for _, n in per_run] == [len(executions(first))] * 2
    assert journal_rows(journal, "SELECT * FROM events WHERE kind LIKE 'position%'") == []


# ---- a real connection: the journal's book must be the account's ---------------------------


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = await start_gateway()
    yield gw
    await gw.stop()


@pytest.fixture
def root_logging() -> Iterator[None]:
    """``ibbot run`` installs its own root handler; put pytest's back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


async def sell_by_hand(gw: Gateway, qty: float) -> None:
    """What an operator does in TWS: sell shares the bot bought, outside the bot."""
    ib = IB()
    await ib.connectAsync("127.0.0.1", gw.port, clientId=99, timeout=5)
    try:
        (aapl,) = await ib.qualifyContractsAsync(
            Stock("AAPL", "SMART", "USD", primaryExchange="NASDAQ")
        )
        trade = ib.placeOrder(aapl, MarketOrder("SELL", qty))
        await ib.reqCurrentTimeAsync()  # a round trip: the gateway has the order
        for _ in range(10):
            await advance(gw, 1)
            await ib.reqCurrentTimeAsync()  # and we have what it sent for the minute
            if trade.isDone():
                break
        assert trade.orderStatus.status == "Filled"
    finally:
        ib.disconnect()


async def test_a_journal_the_account_disagrees_with_refuses_then_reset_proceeds(
    gateway: Gateway, tmp_path: Path, capsys: pytest.CaptureFixture[str], root_logging: None
) -> None:
    gw, journal = gateway, tmp_path / "journal.sqlite"
    path = write_config(tmp_path, gw.port)
    await run_until_filled(path, gw)
    assert account(gw) == {"AAPL": 10}
    await sell_by_hand(gw, 10)  # the journal still says s1 holds 10 AAPL
    assert account(gw) == {}
    sent = (len(gw.broker.completed_orders(PAPER)), len(gw.broker.executions(PAPER)))

    daemon = Daemon(load_config(path), options())
    assert await asyncio.wait_for(daemon.run(), 10) == 2
    assert daemon.stop_reason == mismatch(journal, 10)
    # The same through `ibbot run` (its own loop, in a thread): exit 2, the message on stderr.
    capsys.readouterr()
    assert await asyncio.to_thread(main, ["run", str(path)]) == 2
    err = capsys.readouterr().err
    assert f"ERROR   bot.live.daemon: {mismatch(journal, 10)}\n" in err
    # Nothing sent: no order, no execution, nothing working at the broker.
    assert gw.broker.open_orders(PAPER) == []
    assert (len(gw.broker.completed_orders(PAPER)), len(gw.broker.executions(PAPER))) == sent
    assert account(gw) == {}

    # --reset-positions: s1 starts flat, trades again, and the reset is journalled.
    daemon = await run_until_filled(path, gw, reset_positions=True)
    assert daemon.executor is not None
    assert daemon.executor.positions() == {("s1", "AAPL"): 10}
    assert account(gw) == {"AAPL": 10}
    assert journal_rows(
        journal, "SELECT strategy_id, symbol, quantity FROM position_adjustments"
    ) == [("s1", "AAPL", -10.0)]
    (reset,) = journal_rows(journal, "SELECT message FROM events WHERE kind = 'positions-reset'")
    assert reset == ("--reset-positions: AAPL: strategies hold 10 (s1 10); IB reports 0",)

    # Book and account agree again: the next start trusts the journal (10 AAPL for s1).
    daemon = Daemon(load_config(path), options())
    task = asyncio.create_task(daemon.run())
    await wait_until(lambda: task.done() or (daemon.ready is not None and daemon.ready.is_set()),
                     what="daemon ready")  # fmt: skip
    assert not task.done(), daemon.stop_reason
    assert daemon.executor is not None
    assert daemon.executor.positions() == {("s1", "AAPL"): 10}
    daemon.request_stop("test over")
    assert await asyncio.wait_for(task, 5) == 0
