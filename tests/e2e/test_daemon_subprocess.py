"""``python -m bot run CONFIG`` as a separate process against the simulated gateway run by the
test (manual clock): scripted orders and fills, SIGTERM, --dry-run, the guard, a bad config.
The e2e strategies reach the child through the ``ibbot.strategies`` entry-point group."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from e2e_support import HERE, PAPER, ROOT, advance, scripted, start_gateway, write_config
from e2e_support import write_plugin as make_plugin
from support.waiting import wait_until

from bot.gateway.server import Gateway

STEPS = [
    {"bar": 1, "symbol": "AAPL", "kind": "buy", "qty": 10, "tag": "e1"},
    {"bar": 2, "symbol": "MSFT", "kind": "bracket", "qty": 5, "tag": "br"},
    {"bar": 3, "symbol": "AAPL", "kind": "sell", "qty": 10, "tag": "x1"},
]


class Bot:
    """The child process with its output collected line by line."""

    def __init__(self, proc: asyncio.subprocess.Process) -> None:
        self.proc = proc
        self.err: list[str] = []
        self.out: list[str] = []
        assert proc.stdout is not None and proc.stderr is not None
        self._readers = [
            asyncio.create_task(self._read(proc.stderr, self.err)),
            asyncio.create_task(self._read(proc.stdout, self.out)),
        ]

    @staticmethod
    async def _read(stream: asyncio.StreamReader, into: list[str]) -> None:
        async for line in stream:
            into.append(line.decode(errors="replace").rstrip("\n"))

    def saw(self, text: str) -> bool:
        return any(text in line for line in self.err)

    async def wait(self, timeout: float = 10.0) -> int:
        """The exit code. A child still running after ``timeout`` is aborted, and the stacks
        of its threads (PYTHONFAULTHANDLER, set by spawn) end the failure's message: where
        it hung, not only that it did."""
        try:
            code = await asyncio.wait_for(self.proc.wait(), timeout)
        except TimeoutError:
            self.proc.send_signal(signal.SIGABRT)
            await asyncio.wait_for(self.proc.wait(), 10)
            await asyncio.gather(*self._readers)
            tail = "\n".join(self.err[-80:])
            raise AssertionError(f"the daemon did not exit within {timeout} s:\n{tail}") from None
        await asyncio.gather(*self._readers)
        return code


async def spawn(config: Path, tmp: Path, *args: str, env_extra: dict[str, str] | None = None
                ) -> Bot:  # fmt: skip
    env = {**os.environ, **(env_extra or {})}
    env["PYTHONPATH"] = os.pathsep.join([str(make_plugin(tmp)), str(HERE), str(ROOT)])
    env["PYTHONFAULTHANDLER"] = "1"  # Bot.wait's abort prints every thread's stack
    proc = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "bot", "run", str(config), *args,
        cwd=ROOT, env=env,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    return Bot(proc)


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = await start_gateway()
    yield gw
    await gw.stop()


async def test_subprocess_trades_the_script_and_stops_cleanly_on_sigterm(
    gateway: Gateway, tmp_path: Path
) -> None:
    config = write_config(tmp_path, gateway.port, [scripted("s1", STEPS)])
    bot = await spawn(config, tmp_path)
    try:
        await wait_until(
            lambda: bot.saw("bot.live.daemon: live:") or bot.proc.returncode is not None,
            timeout=20, what="the bot going live",
        )  # fmt: skip
        assert bot.saw("bot.live.daemon: live:"), "\n".join(bot.err)
        await advance(gateway, 5)
        await wait_until(lambda: len(gateway.broker.executions(PAPER)) >= 3, what="3 executions")
        # The journal commits within its interval; wait for the bracket's children to work.
        await wait_until(lambda: len(gateway.broker.open_orders(PAPER)) == 2, what="bracket legs")
        t0 = time.monotonic()
        bot.proc.send_signal(signal.SIGTERM)
        code = await bot.wait(timeout=5)
        took = time.monotonic() - t0
    finally:
        if bot.proc.returncode is None:
            bot.proc.kill()
            await bot.proc.wait()
    assert code == 0, "\n".join(bot.err)
    assert took < 5
    # In order per symbol; across symbols the order depends on when the lagging child's
    # orders reach the gateway (the test steps its clock without waiting for the child).
    execs: dict[str, list[tuple[str, float]]] = {}
    for r in gateway.broker.executions(PAPER):
        execs.setdefault(r.contract.symbol, []).append((r.execution.side, r.execution.shares))
    assert execs == {"AAPL": [("BOT", 10), ("SLD", 10)], "MSFT": [("BOT", 5)]}
    await wait_until(lambda: not gateway.broker.open_orders(PAPER), what="cancel on stop")
    assert bot.saw("stopping: signal SIGTERM")
    assert bot.saw("ORDER s1 MSFT bracket BUY 5 MKT / tp SELL 5 LMT")
    assert sum("FILL  s1" in line for line in bot.err) == 3
    assert any("ibbot run summary" in line for line in bot.out)


async def test_subprocess_dry_run_flag_sends_nothing(gateway: Gateway, tmp_path: Path) -> None:
    config = write_config(tmp_path, gateway.port, [scripted("s1", STEPS)])
    bot = await spawn(config, tmp_path, "--dry-run", "--duration", "30s")
    try:
        await wait_until(
            lambda: bot.saw("bot.live.daemon: live:") or bot.proc.returncode is not None,
            timeout=20, what="the bot going live",
        )  # fmt: skip
        await advance(gateway, 5)
        await wait_until(lambda: sum("FILL  s1" in x for x in bot.err) >= 3, what="3 dry fills")
        bot.proc.send_signal(signal.SIGINT)
        code = await bot.wait()
    finally:
        if bot.proc.returncode is None:
            bot.proc.kill()
            await bot.proc.wait()
    assert code == 0
    assert gateway.broker.executions(PAPER) == []
    assert gateway.broker.completed_orders(PAPER) == [] and gateway.broker.open_orders(PAPER) == []
    assert any("DRY RUN: nothing was sent" in line for line in bot.out)


async def test_subprocess_guard_refuses_a_non_paper_account(tmp_path: Path) -> None:
    gw = await start_gateway(account="U1234567")
    try:
        config = write_config(tmp_path, gw.port, [scripted("s1", STEPS)])
        bot = await spawn(config, tmp_path)
        code = await bot.wait(timeout=20)
        assert code == 2
        assert bot.saw("refusing to trade account U1234567: it is not a paper account")
        assert gw.broker.completed_orders("U1234567") == []
    finally:
        await gw.stop()


async def test_subprocess_bad_config_exits_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("universe: {symbols: [AAPL]}\nstrategies: []\nbogus: 1\n")
    bot = await spawn(config, tmp_path)
    assert await bot.wait(timeout=20) == 2
    assert any("bogus" in line for line in bot.err)
