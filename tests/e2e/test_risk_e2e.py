"""The risk stage end to end: a real daemon process (``python -m bot run``) against the
simulated gateway run by the test (manual clock), and ``python -m bot kill`` / ``resume`` as
separate processes: kill flattens and halts a running daemon, a restart stays HALTED, resume
trades again; the daily loss limit goes REDUCING and flattens; the account's per-symbol cap
holds over two strategies; a fat-finger limit price is rejected with its message."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import sys
import urllib.request
from collections.abc import AsyncIterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from e2e_support import (
    HERE,
    PAPER,
    ROOT,
    advance,
    scripted,
    start_gateway,
    write_config,
    write_plugin,
)
from support.network import free_port
from support.waiting import wait_until, wait_until_async
from test_daemon_subprocess import Bot, spawn

from bot.gateway.server import Gateway


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = await start_gateway()
    yield gw
    await gw.stop()


def execs(gw: Gateway) -> list[tuple[str, str, float]]:
    return [(r.contract.symbol, r.execution.side, r.execution.shares)
            for r in gw.broker.executions(PAPER)]  # fmt: skip


async def operator(command: str, config: Path, *args: str) -> tuple[int, str]:
    plugin = write_plugin(config.parent)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(plugin), str(HERE), str(ROOT)]))
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", command, str(config), *args, cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out, _ = await proc.communicate()
    return int(proc.returncode or 0), out.decode()


async def live(config: Path, tmp: Path) -> Bot:
    bot = await spawn(config, tmp)
    await wait_until(lambda: bot.saw("bot.live.daemon: live:") or bot.proc.returncode is not None,
                     timeout=20, what="the bot going live")  # fmt: skip
    assert bot.saw("bot.live.daemon: live:"), "\n".join(bot.err)
    return bot


async def stop(bot: Bot) -> int:
    if bot.proc.returncode is None:
        bot.proc.send_signal(signal.SIGTERM)
    try:
        return await bot.wait(timeout=10)
    finally:
        if bot.proc.returncode is None:
            bot.proc.kill()
            await bot.proc.wait()


async def market_time(metrics_port: int) -> datetime:
    """The bot's market clock, from its /api/status (read off the gateway's event loop)."""

    def read() -> datetime:
        url = f"http://127.0.0.1:{metrics_port}/api/status"
        with urllib.request.urlopen(url, timeout=5) as r:
            return datetime.fromisoformat(json.loads(r.read())["market_time"])

    return await asyncio.to_thread(read)


async def advance_until(
    gw: Gateway, cond: Any, what: str, minutes: float = 3.0, metrics_port: int | None = None
) -> None:
    """Step the clock 5 s at a time until ``cond()``. With the bot's ``metrics_port``, a step
    that closes a minute waits until the bot (another process) has read that bar: what it sent
    in answer, and every fill before it, is handled before the next bar, however fast it runs."""
    for _ in range(int(minutes * 12)):
        if cond():
            return
        await advance(gw, 5 / 60)
        now = gw.clock.now()
        if metrics_port is not None and now.second == 0:

            async def read_it(port: int = metrics_port, at: datetime = now) -> bool:
                return await market_time(port) >= at

            await wait_until_async(read_it, what=f"the bot reading the {now:%H:%M} bar")
        else:
            await asyncio.sleep(0.05)
    await wait_until(cond, what=what)


def buy(bar: int, qty: int, tag: str, symbol: str = "AAPL", **kw: Any) -> dict[str, Any]:
    return {"bar": bar, "symbol": symbol, "kind": "buy", "qty": qty, "tag": tag, **kw}


async def test_kill_flattens_a_running_daemon_a_restart_stays_halted_resume_trades(
    gateway: Gateway, tmp_path: Path
) -> None:
    steps = [buy(1, 10, "e1"), buy(6, 5, "e2"), buy(9, 3, "e3")]
    config = write_config(tmp_path, gateway.port, [scripted("s1", steps, symbols=["AAPL"])],
                          symbols=("AAPL",))  # fmt: skip
    bot = await live(config, tmp_path)
    try:
        await advance(gateway, 1)
        await advance_until(gateway, lambda: execs(gateway) == [("AAPL", "BOT", 10)],
                            "the first buy")  # fmt: skip
        code, out = await operator("kill", config, "--reason", "test kill")
        assert code == 0 and "kill of the account requested" in out, out
        await wait_until(lambda: bot.saw("the account is now HALTED (test kill)"), what="HALTED")
        await advance_until(gateway, lambda: ("AAPL", "SLD", 10) in execs(gateway), "the flatten")
        await advance(gateway, 6)  # bar 6's buy: refused
        await wait_until(lambda: bot.saw("s1 is HALTED (test kill): only cancels"), what="refusal")
    finally:
        assert await stop(bot) == 0, "\n".join(bot.err)
    assert execs(gateway) == [("AAPL", "BOT", 10), ("AAPL", "SLD", 10)]

    bot = await live(config, tmp_path)  # a restart: still HALTED
    try:
        assert bot.saw("test kill (restored at start)"), "\n".join(bot.err)
        await advance(gateway, 1.5)  # bar 1's buy of this run: refused
        await wait_until(lambda: bot.saw("s1 is HALTED"), what="refused after the restart")
        code, out = await operator("resume", config)
        assert code == 0, out
        await wait_until(lambda: bot.saw("operator resume of the account"), what="the resume")
        await advance(gateway, 4)  # to bar 6: buys 5
        await advance_until(gateway, lambda: ("AAPL", "BOT", 5) in execs(gateway),
                            "trading again")  # fmt: skip
        bot.proc.send_signal(signal.SIGUSR1)  # the same kill, by signal
        await wait_until(lambda: bot.saw("the account is now HALTED (SIGUSR1)"), what="SIGUSR1")
        await advance_until(gateway, lambda: ("AAPL", "SLD", 5) in execs(gateway), "flat again")
    finally:
        assert await stop(bot) == 0, "\n".join(bot.err)
    code, out = await operator("kill", config, "--strategy", "nope")
    assert code == 2 and "no strategy 'nope'" in out


async def test_daily_loss_goes_reducing_and_flattens_the_caps_and_the_collar_hold(
    gateway: Gateway, tmp_path: Path
) -> None:
    msft = [buy(1, 1, "a", "MSFT"), buy(2, 1, "b", "MSFT"), buy(5, 1, "c", "MSFT")]
    loser = scripted("loser", msft,
                     symbols=["MSFT"], risk={"daily_loss_limit": 1.5, "flatten_on_limit": True})
    one = scripted("one", [buy(1, 10, "x")], symbols=["AAPL"])
    two = scripted("two", [buy(2, 10, "y"), buy(3, 5, "z"),
                           {"bar": 4, "symbol": "AAPL", "kind": "limit_buy", "qty": 1,
                            "tag": "fat", "price_factor": 1.5}], symbols=["AAPL"])  # fmt: skip
    port = free_port()
    config = write_config(tmp_path, gateway.port, [loser, one, two],
                          risk={"max_position": 15, "price_collar_pct": 5},
                          metrics={"port": port})  # fmt: skip
    bot = await live(config, tmp_path)

    def answered() -> bool:  # bar 3's buy of 5 filled, REDUCING, bar 5's MSFT buy refused
        return (("AAPL", "BOT", 5) in execs(gateway) and bot.saw("loser is REDUCING (daily loss")
                and bot.saw("rejected PlaceOrder for loser"))  # fmt: skip

    try:  # in step with the bot: bar 5's refusal needs bars 1-2's fills booked first
        await advance_until(gateway, answered, "the orders of bars 1-5", minutes=8,
                            metrics_port=port)  # fmt: skip
    finally:
        assert await stop(bot) == 0, "\n".join(bot.err)
    e = execs(gateway)
    # The loser paid two commissions (> 1.5) on 2 MSFT: REDUCING, flattened, bar 5 refused.
    assert [x for x in e if x[0] == "MSFT"] == [("MSFT", "BOT", 1), ("MSFT", "BOT", 1),
                                                ("MSFT", "SLD", 2)]  # fmt: skip
    assert bot.saw("daily loss") and bot.saw("reached daily_loss_limit 1.5")
    # The account's cap of 15 AAPL over both strategies: one's 10, then two's 10 refused and 5
    # accepted.
    assert [x for x in e if x[0] == "AAPL"] == [("AAPL", "BOT", 10), ("AAPL", "BOT", 5)]
    assert bot.saw("max_position 15 exceeded for AAPL (the account, all strategies): "
                   "position 10 + order 10")  # fmt: skip
    assert bot.saw("price collar: limit price") and bot.saw("(collar 5%)")
