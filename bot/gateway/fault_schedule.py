"""One random fault from the gateway's fault injection, run its random course: the step of
the seeded fault schedules (tests/e2e/test_fault_schedules.py) and of the soak bench
(bench/soak_bench.py). The draws from ``rng`` are the same whoever steps the clock, so a seed
names one schedule."""

from __future__ import annotations

import random
from collections.abc import Awaitable, Callable

from bot.gateway.server import Gateway

FAULT_KINDS = ("drop", "restart", "1101", "1102", "farm", "stop", "reject")

#: Moves the gateway's clock ``seconds`` of market time; ``paced`` asks for more wall time
#: after each step (a restart's refused connects, a silent feed's watchdog).
Walk = Callable[[float, bool], Awaitable[None]]


async def random_fault(gw: Gateway, rng: random.Random, walk: Walk) -> tuple[str, int]:
    """Fire one fault of a random kind and walk through its random length (30-145 s);
    (its kind, its length in seconds)."""
    kind = rng.choice(FAULT_KINDS)
    length = rng.randrange(30, 150, 5)
    if kind == "drop":
        gw.fault("disconnect_all")
    elif kind == "restart":
        gw.fault("restart", seconds=min(length, 60))
        await walk(min(length, 60), True)
    elif kind in ("1101", "1102"):
        gw.fault("connectivity_lost")
        await walk(length, False)
        gw.fault("connectivity_restored", data="lost" if kind == "1101" else "kept")
    elif kind == "farm":
        gw.fault("farm_broken", farm="market")
        await walk(length, False)
        gw.fault("farm_ok", farm="market")
    elif kind == "stop":
        gw.fault("stop_data")
        await walk(length, True)
        gw.fault("resume_data")
    else:
        gw.fault("reject_orders", count=rng.randint(1, 3))
    return kind, length
