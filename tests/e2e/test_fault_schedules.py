"""Seeded random fault schedules: a few faults of random kinds and lengths, one after another,
with trading between them; after the schedule the same invariants as the fault matrix. A
handful of seeds run by default; the others of 1..203 with ``-m slow``. A failing seed replays
exactly: ``pytest tests/e2e/test_fault_schedules.py -k 'seed-17'``."""

from __future__ import annotations

import contextlib
import logging
import random
from pathlib import Path

import pytest
from e2e_support import start_gateway
from fault_support import Run, check_invariants, start_run, until_trading, walk

from bot.gateway.fault_schedule import random_fault
from bot.gateway.server import Gateway

STEPS = [
    {"bar": 1, "symbol": "AAPL", "kind": "buy", "qty": 10, "tag": "e1"},
    {"bar": 2, "symbol": "MSFT", "kind": "buy", "qty": 5, "tag": "e2"},
    {"bar": 6, "symbol": "AAPL", "kind": "sell", "qty": 4, "tag": "x1"},
    {"bar": 9, "symbol": "MSFT", "kind": "sell", "qty": 5, "tag": "x2"},
    {"bar": 12, "symbol": "AAPL", "kind": "buy", "qty": 2, "tag": "e3"},
]


async def one_fault(gw: Gateway, run: Run, rng: random.Random) -> str:
    """Fire one random fault and let it run its random course; what it was."""

    async def paced_walk(seconds: float, paced: bool) -> None:
        await walk(gw, seconds, pause=0.03) if paced else await walk(gw, seconds)

    kind, length = await random_fault(gw, rng, paced_walk)
    await until_trading(run)
    return f"{kind} {length}s"


async def run_schedule(seed: int, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    rng = random.Random(seed)
    gw = await start_gateway()
    run: Run | None = None
    try:
        run = await start_run(gw, tmp_path, STEPS, client_id=70 + seed % 20)
        done = []
        await walk(gw, rng.randrange(15, 90, 5))
        for _ in range(3):
            done.append(await one_fault(gw, run, rng))
            await walk(gw, rng.randrange(10, 60, 5))
        end = gw.clock.now()
        await walk(gw, 120)
        try:
            await check_invariants(run, gw, end, caplog.text)
        except AssertionError as e:
            raise AssertionError(f"seed {seed}, faults {done}: {e}") from e
        assert await run.stop() == 0
    finally:
        if run is not None and not run.task.done():  # a failed seed: the next starts clean
            with contextlib.suppress(Exception):
                await run.stop()
        await gw.stop()


@pytest.fixture(autouse=True)
def _logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)


# 113: a gap's backfill lost with the socket, then asked again within the same server second
# (it used to wait out IB's 15 s identical-request rule: tests/daemon/test_feed.py).
@pytest.mark.parametrize("seed", [1, 2, 3, 113], ids=lambda s: f"seed-{s}")
async def test_a_random_fault_schedule_keeps_every_invariant(
    seed: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await run_schedule(seed, tmp_path, caplog)


@pytest.mark.slow
@pytest.mark.parametrize("seed", [s for s in range(4, 204) if s != 113],
                         ids=lambda s: f"seed-{s}")
async def test_many_random_fault_schedules(
    seed: int, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    await run_schedule(seed, tmp_path, caplog)
