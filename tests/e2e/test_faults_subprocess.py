"""Faults with the daemon as a real subprocess (``python -m bot run``): a socket drop, then
1100 and 1101, then a gateway restart refusing connections; the bot keeps trading the script
after each, every fill is journalled once, its positions equal the broker's, and IB never
answered 162."""

from __future__ import annotations

import signal
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from e2e_support import PAPER, journal_rows, scripted, start_gateway, write_config
from fault_support import FAST_IB, broker_positions, walk
from support.waiting import wait_until
from test_daemon_subprocess import spawn

from bot.gateway.server import Gateway

STEPS = [
    {"bar": 1, "symbol": "AAPL", "kind": "buy", "qty": 10, "tag": "e1"},
    {"bar": 4, "symbol": "MSFT", "kind": "buy", "qty": 5, "tag": "e2"},
    {"bar": 8, "symbol": "AAPL", "kind": "sell", "qty": 4, "tag": "x1"},
    {"bar": 10, "symbol": "MSFT", "kind": "sell", "qty": 5, "tag": "x2"},
]


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = await start_gateway()
    yield gw
    await gw.stop()


async def test_the_subprocess_trades_through_a_drop_1101_and_a_restart(
    gateway: Gateway, tmp_path: Path
) -> None:
    config = write_config(tmp_path, gateway.port, [scripted("s1", STEPS)], client_id=81,
                          ib=FAST_IB)  # fmt: skip
    bot = await spawn(config, tmp_path)
    try:
        await wait_until(
            lambda: bot.saw("bot.live.daemon: live:") or bot.proc.returncode is not None,
            timeout=20, what="the bot going live",
        )  # fmt: skip
        await walk(gateway, 150, pause=0.03)
        gateway.fault("disconnect_all")
        await wait_until(lambda: bot.saw("reconnecting -> connected"), 10, what="reconnected")
        await walk(gateway, 60, pause=0.03)
        gateway.fault("connectivity_lost")
        await walk(gateway, 90, pause=0.03)
        gateway.fault("connectivity_restored", data="lost")
        await wait_until(lambda: bot.saw("IB connectivity restored (1101)"), 10, what="1101 seen")
        await walk(gateway, 60, pause=0.03)
        gateway.fault("restart", seconds=20)
        await walk(gateway, 20, pause=0.05)
        await wait_until(lambda: bot.saw("after 1 attempt") or sum(
            "reconnecting -> connected" in line for line in bot.err) >= 2, 10, what="back")
        await walk(gateway, 300, pause=0.03)
        await wait_until(lambda: len(gateway.broker.executions(PAPER)) >= 4, 10,
                         what=f"4 executions (log: {bot.err[-30:]})")
        bot.proc.send_signal(signal.SIGTERM)
        code = await bot.wait(timeout=10)
    finally:
        if bot.proc.returncode is None:
            bot.proc.kill()
            await bot.proc.wait()
    log = "\n".join(bot.err)
    assert code == 0, log
    assert "Error 162" not in log and "pacing violation" not in log
    assert "backfilled" in log
    execs = [(r.contract.symbol, r.execution.side, r.execution.shares)
             for r in gateway.broker.executions(PAPER)]  # fmt: skip
    assert execs == [("AAPL", "BOT", 10), ("MSFT", "BOT", 5), ("AAPL", "SLD", 4),
                     ("MSFT", "SLD", 5)]  # fmt: skip
    fills = journal_rows(tmp_path / "journal.sqlite", "SELECT symbol, side, quantity FROM fills "
                         "ORDER BY time")  # fmt: skip
    assert fills == [("AAPL", "BUY", 10), ("MSFT", "BUY", 5), ("AAPL", "SELL", 4),
                     ("MSFT", "SELL", 5)]  # fmt: skip
    assert broker_positions(gateway) == {"AAPL": 6}
