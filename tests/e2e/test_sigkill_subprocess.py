"""SIGKILL of ``python -m bot run`` at exact moments of an order's life (the test hook
bot/runtime/crash_points.py), restarted within 2 s against the same simulated gateway: right after
the order's row is committed and before it is sent, right after it is sent, and right after a real
partial fill (the gateway's participation cap splits the order over many trade prints).

The strategy holds a target position, so after a restart it decides again from its position:
whatever the broker already has or filled counts, nothing is sent twice. Audited after each:
no duplicate order at the broker, every execution journalled exactly once, the journal's
positions (the bot's book) equal the broker's, a complete warm-up after the restart and no
162 in either log."""

from __future__ import annotations

import random
import re
import signal
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from e2e_support import PAPER, journal_rows, scripted, start_gateway, write_config
from fault_support import FAST_IB, broker_positions, walk
from support.waiting import wait_until
from test_daemon_subprocess import Bot, spawn

from bot.gateway.server import Gateway

QTY = 300  # at participation 0.002 of prints of 3 000 - 13 000 shares: ~20 executions
TARGET = [{"bar": n, "symbol": "AAPL", "kind": "target", "qty": QTY, "tag": "hold"}
          for n in range(1, 5)]  # fmt: skip
WARMUP = re.compile(r"warm-up (\d+) bars")


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = await start_gateway(participation=0.002)
    yield gw
    await gw.stop()


async def live(bot: Bot) -> int:
    """Wait for the bot to go live; its warm-up bar count."""
    await wait_until(lambda: bot.saw("bot.live.daemon: live:") or bot.proc.returncode is not None,
                     timeout=30, what="the bot going live")  # fmt: skip
    line = next((x for x in bot.err if "bot.live.daemon: live:" in x), "")
    found = WARMUP.search(line)
    assert found, "\n".join(bot.err[-40:])
    return int(found.group(1))


async def hold_target(gw: Gateway) -> None:
    """Walk until the broker holds the target with nothing working, then through more target
    bars (nothing more may be sent)."""
    for _ in range(60):
        await walk(gw, 5, pause=0.05)
        if broker_positions(gw).get("AAPL") == QTY and not gw.broker.open_orders(PAPER):
            break
    await walk(gw, 70, pause=0.05)


async def crash_and_restart(gw: Gateway, tmp: Path, point: str) -> tuple[Bot, Bot]:
    """Run the bot until it kills itself at ``point``; move the market 10 s on while it is
    down; restart it (the same config and journal) and walk until the target is held."""
    config = write_config(tmp, gw.port, [scripted("s1", TARGET, symbols=["AAPL"])],
                          symbols=("AAPL",), client_id=91, ib=FAST_IB)  # fmt: skip
    first = await spawn(config, tmp, env_extra={"IBBOT_CRASH_AT": point})
    second: Bot | None = None
    try:
        warm_first = await live(first)
        for _ in range(40):  # 5-second steps until the crash point is reached
            await walk(gw, 5, pause=0.05)
            if first.proc.returncode is not None:
                break
        code = await first.wait(timeout=10)
        assert code == -signal.SIGKILL, "\n".join(first.err[-40:])
        assert first.saw(f"crash point {point}: SIGKILL")
        died = time.monotonic()
        await walk(gw, 10)  # the market goes on while the bot is down
        second = await spawn(config, tmp)
        assert time.monotonic() - died < 2.0  # restarted within 2 s
        warm_second = await live(second)
        assert warm_second >= warm_first > 0  # a complete warm-up after the restart
        await hold_target(gw)
        second.proc.send_signal(signal.SIGTERM)
        assert await second.wait(timeout=10) == 0, "\n".join(second.err[-40:])
        return first, second
    finally:
        for bot in (first, second):
            if bot is not None and bot.proc.returncode is None:
                bot.proc.kill()
                await bot.proc.wait()


def audit(gw: Gateway, tmp: Path, *bots: Bot) -> list[tuple[str, str | None]]:
    """The invariants; the journal's orders (ref, status) in order."""
    path = tmp / "journal.sqlite"
    snaps = gw.broker.completed_orders(PAPER) + gw.broker.open_orders(PAPER)
    refs = [s.order.orderRef for s in snaps]
    ids = [s.order.orderId for s in snaps]
    assert len(refs) == len(set(refs)) and len(ids) == len(set(ids)), "a duplicate order"
    executions = sorted((r.execution.execId, r.execution.orderRef, r.execution.shares)
                        for r in gw.broker.executions(PAPER))  # fmt: skip
    fills = sorted(journal_rows(path, "SELECT exec_id, order_ref, quantity FROM fills"))
    assert fills == executions  # every execution journalled, exactly once
    assert sum(q for _, _, q in fills) == QTY
    book = journal_rows(path, "SELECT symbol, SUM(CASE side WHEN 'BUY' THEN quantity "
                        "ELSE -quantity END) FROM fills GROUP BY symbol")  # fmt: skip
    assert dict(book) == broker_positions(gw) == {"AAPL": QTY}
    for bot in bots:
        log = "\n".join(bot.err)
        assert "Error 162" not in log and "pacing violation" not in log
        assert "Error 326" not in log
    orders = journal_rows(path, "SELECT order_ref, status FROM orders ORDER BY created, seq")
    assert sorted(refs) == sorted(r for r, s in orders if s != "never_sent")
    return orders


async def test_killed_after_journalling_before_sending(gateway: Gateway, tmp_path: Path) -> None:
    first, second = await crash_and_restart(gateway, tmp_path, "after_journal")
    orders = audit(gateway, tmp_path, first, second)
    (never, sent) = orders
    assert never == ("ibbot:s1:AAPL:target.1:1", "never_sent")
    assert sent == ("ibbot:s1:AAPL:target.2:2", "Filled")  # decided again; seq 1 not reused
    assert second.saw("order ibbot:s1:AAPL:target.1:1 (strategy s1, AAPL) was journalled but "
                      "never reached the broker: marked never_sent, not re-sent")  # fmt: skip


async def test_killed_right_after_sending(gateway: Gateway, tmp_path: Path) -> None:
    first, second = await crash_and_restart(gateway, tmp_path, "after_send")
    orders = audit(gateway, tmp_path, first, second)
    assert orders == [("ibbot:s1:AAPL:target.1:1", "Filled")]
    # It reached the broker and filled partly while the bot was down: adopted, not re-sent.
    assert second.saw("adopted 1 open orders") and not second.saw("never reached the broker")


async def test_killed_after_a_partial_fill(gateway: Gateway, tmp_path: Path) -> None:
    first, second = await crash_and_restart(gateway, tmp_path, "after_partial_fill")
    orders = audit(gateway, tmp_path, first, second)
    assert orders == [("ibbot:s1:AAPL:target.1:1", "Filled")]
    (execs,) = journal_rows(tmp_path / "journal.sqlite", "SELECT COUNT(*) FROM fills")
    assert execs[0] > 2  # really split: before the kill, while down, after the restart
    # The fill routed just before the kill was still in the commit buffer: reconcile routed
    # it again from the broker's executions, journalled once (the audit's execId check).
    assert second.saw("adopted 1 open orders")


@pytest.mark.slow
@pytest.mark.parametrize("seed", range(5))
async def test_killed_at_random_moments(gateway: Gateway, tmp_path: Path, seed: int) -> None:
    """Three SIGKILLs from outside at random moments of the target's trading (a few clock
    steps after going live), each restarted at once; then the same audit."""
    rng = random.Random(seed)
    config = write_config(tmp_path, gateway.port, [scripted("s1", TARGET, symbols=["AAPL"])],
                          symbols=("AAPL",), client_id=91, ib=FAST_IB)  # fmt: skip
    bots: list[Bot] = []
    try:
        for _ in range(3):
            bots.append(bot := await spawn(config, tmp_path))
            await live(bot)
            for _ in range(rng.randint(0, 12)):
                await walk(gateway, 5, pause=rng.choice([0.0, 0.02, 0.05]))
            bot.proc.send_signal(signal.SIGKILL)
            assert await bot.wait() == -signal.SIGKILL
            await walk(gateway, 5 * rng.randint(1, 3))
        bots.append(last := await spawn(config, tmp_path))
        await live(last)
        await hold_target(gateway)
        last.proc.send_signal(signal.SIGTERM)
        assert await last.wait(timeout=10) == 0, "\n".join(last.err[-40:])
    finally:
        for bot in bots:
            if bot.proc.returncode is None:
                bot.proc.kill()
                await bot.proc.wait()
    audit(gateway, tmp_path, *bots)
