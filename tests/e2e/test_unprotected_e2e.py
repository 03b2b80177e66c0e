"""A protective stop the broker rejects (the simulated gateway's reject fault, error 201) with
the position left open: ``risk.unprotected`` says what follows. The default flattens the
position through the risk stage as an own order, journalled and logged with the order's ref and
the broker's error; ``reduce`` pauses the strategy's entries on the symbol instead."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from e2e_support import PAPER, journal_rows, start_gateway
from fault_support import broker_positions, start_run, walk

from bot.gateway.server import Gateway

TEXT = "Stop price too far from the market"
ENTRY_THEN_STOP = [
    {"bar": 1, "symbol": "MSFT", "kind": "buy", "qty": 5, "tag": "e1"},
    {"bar": 3, "symbol": "MSFT", "kind": "stop_sell", "qty": 5, "tag": "sl"},
    {"bar": 6, "symbol": "MSFT", "kind": "buy", "qty": 2, "tag": "e2"},  # after the fault
]


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = await start_gateway()
    yield gw
    await gw.stop()


def risk_events(tmp: Path, kind: str) -> list[str]:
    rows = journal_rows(tmp / "journal.sqlite",
                        f"SELECT reason FROM risk_events WHERE kind = '{kind}'")  # fmt: skip
    return [r for (r,) in rows]


async def test_a_rejected_protective_stop_flattens_the_position(
    gateway: Gateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    gateway.fault("reject_orders", symbol="MSFT", order_type="STP", count=1, text=TEXT)
    run = await start_run(gateway, tmp_path, ENTRY_THEN_STOP[:2])
    await walk(gateway, 300)
    assert broker_positions(gateway) == {}  # flattened at the broker
    assert await run.stop() == 0
    [why] = risk_events(tmp_path, "unprotected")
    assert why.startswith("protective stop ibbot:s1:MSFT:sl:")
    assert TEXT in why and "MSFT +5 of s1 unprotected; flattening it" in why
    assert risk_events(tmp_path, "own_order") == ["flatten"]  # through the risk stage
    sides = [(tag.split(".")[0], side, qty) for tag, side, qty in journal_rows(
        tmp_path / "journal.sqlite", "SELECT tag, side, quantity FROM fills ORDER BY rowid")]
    assert sides == [("e1", "BUY", 5), ("flatten", "SELL", 5)]
    assert "risk: protective stop ibbot:s1:MSFT:sl:" in caplog.text
    executions = gateway.broker.executions(PAPER)
    assert sum(e.execution.shares for e in executions) == 10  # in and out, nothing more


async def test_with_unprotected_reduce_entries_pause_on_the_symbol_instead(
    gateway: Gateway, tmp_path: Path
) -> None:
    gateway.fault("reject_orders", symbol="MSFT", order_type="STP", count=1, text=TEXT)
    run = await start_run(gateway, tmp_path, ENTRY_THEN_STOP,
                          risk={"max_position": 1000, "unprotected": "reduce"})  # fmt: skip
    await walk(gateway, 480)
    assert broker_positions(gateway) == {"MSFT": 5}  # kept, the entry after it refused
    router = run.daemon.router
    assert router is not None and router.risk.paused("unprotected", strategy_id="s1",
                                                     symbol="MSFT")  # fmt: skip
    assert await run.stop() == 0
    [why] = risk_events(tmp_path, "unprotected")
    assert why.endswith("MSFT +5 of s1 unprotected; entries on it paused")
    refused = risk_events(tmp_path, "rejection")
    assert any(r.startswith("s1 is REDUCING (protective stop") for r in refused), refused


async def test_a_brackets_rejected_stop_cancels_its_entry(
    gateway: Gateway, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The stop child refused before the entry filled: the entry would fill unprotected, so
    it is cancelled (its take-profit with it); nothing is open, so nothing to flatten."""
    caplog.set_level(logging.INFO)
    gateway.fault("reject_orders", symbol="MSFT", order_type="STP", count=1, text=TEXT)
    bracket = [{"bar": 1, "symbol": "MSFT", "kind": "bracket", "qty": 5, "tag": "b1"}]
    run = await start_run(gateway, tmp_path, bracket)
    await walk(gateway, 180)
    router = run.daemon.router
    assert router is not None and not router.executor.working_orders("s1", "MSFT")
    assert await run.stop() == 0
    assert "the stop of bracket ibbot:s1:MSFT:b1:" in caplog.text
    assert gateway.broker.executions(PAPER) == [] and broker_positions(gateway) == {}
    assert risk_events(tmp_path, "unprotected") == []
