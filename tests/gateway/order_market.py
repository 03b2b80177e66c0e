"""A crafted market for the order-type tests: a staircase of flat minutes whose every fill
price can be worked out by hand.

Every one-minute bar has open = high = low = close, so all 48 ticks of a bar (one every 1.25 s,
the last at the bar's end) trade at that price. The spread is two ticks, so the quote is
``price - 0.01`` / ``price + 0.01``: a market buy pays price + 0.01, a market sell gets
price - 0.01. Volume is 10 000 a bar.

STEP (conId 2001, shortable) and HTB (conId 2002, hard to borrow: not shortable) follow the
same path. Times are UTC; 09:30 New York is 14:30 UTC in January.

* Thursday 2024-01-04, regular hours: 50.00 all day (so the previous close is 50.00).
* Friday 2024-01-05, pre-market 13:00-14:30 (08:00-09:30 New York): 49.00.
* Friday regular hours, by minute i after the open (bar i covers 14:30 + i min, its ticks
  fall in (start, start + 60 s]):

    i       0-9    10-19  20-29  30-39  40-49  50-59        60-69  70-379  380-389
    price   50.00  50.50  51.00  50.80  50.60  49.00 (gap)  49.50  50.00   52.00 (close)

* Monday 2024-01-08, regular hours: 53.00 all day.

The gateway (manual clock) starts at Friday's open, 14:30 UTC, unless a test says otherwise.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

from gateway_helpers import make_config, settle
from ib_insync import IB, Contract, Stock, Trade

from bot.config.gateway import GatewaySettings
from bot.gateway.server import Gateway, GatewayTuning

THU = datetime(2024, 1, 4, 14, 30, tzinfo=UTC)
PRE = datetime(2024, 1, 5, 13, 0, tzinfo=UTC)
OPEN = datetime(2024, 1, 5, 14, 30, tzinfo=UTC)
CLOSE = datetime(2024, 1, 5, 21, 0, tzinfo=UTC)
MON = datetime(2024, 1, 8, 14, 30, tzinfo=UTC)
STEP_ID, HTB_ID = 2001, 2002
VOLUME = 10_000

# (first minute, price) of Friday's regular session, each level until the next one starts
FRIDAY = [
    (0, 50.00),
    (10, 50.50),
    (20, 51.00),
    (30, 50.80),
    (40, 50.60),
    (50, 49.00),
    (60, 49.50),
    (70, 50.00),
    (380, 52.00),
]

INSTRUMENTS_YAML = """
defaults:
  STK: {exchange: SMART, primaryExchange: NASDAQ, currency: USD, minTick: 0.01, spread: 0.02,
        timeZoneId: US/Eastern, tradingHours: "04:00-20:00", liquidHours: "09:30-16:00"}
instruments:
  - {symbol: STEP, secType: STK, conId: 2001, longName: STEP STAIRS INC}
  - {symbol: HTB, secType: STK, conId: 2002, longName: HARD TO BORROW CORP, shortable: false}
"""


def friday_price(i: int) -> float:
    """Friday's price in regular-hours minute ``i`` (0 = the bar starting 14:30 UTC)."""
    price = FRIDAY[0][1]
    for first, level in FRIDAY:
        if i >= first:
            price = level
    return price


def at(i: int, seconds: float = 0.0) -> datetime:
    """Friday 14:30 UTC + ``i`` minutes + ``seconds``."""
    return OPEN + timedelta(minutes=i, seconds=seconds)


def bars() -> list[tuple[datetime, float]]:
    out = [(THU + timedelta(minutes=i), 50.0) for i in range(390)]
    out += [(PRE + timedelta(minutes=i), 49.0) for i in range(90)]
    out += [(OPEN + timedelta(minutes=i), friday_price(i)) for i in range(390)]
    out += [(MON + timedelta(minutes=i), 53.0) for i in range(390)]
    return out


def write_order_market(root: Path) -> tuple[Path, Path]:
    data = root / "data"
    data.mkdir()
    rows = ["time,open,high,low,close,volume"]
    rows += [f"{t.isoformat()},{p},{p},{p},{p},{VOLUME}" for t, p in bars()]
    for symbol in ("STEP", "HTB"):
        (data / f"{symbol}.csv").write_text("\n".join(rows) + "\n")
    instruments = root / "instruments.yaml"
    instruments.write_text(INSTRUMENTS_YAML)
    return data, instruments


def order_config(
    files: tuple[Path, Path], **kw: object
) -> tuple[GatewaySettings, GatewayTuning]:
    return make_config(files, **{"start": OPEN, **kw})


@contextlib.asynccontextmanager
async def running(files: tuple[Path, Path], **kw: object) -> AsyncIterator[Gateway]:
    gw = Gateway(*order_config(files, **kw))
    await gw.start()
    try:
        yield gw
    finally:
        await gw.stop()


async def advance_to(gw: Gateway, t: datetime) -> None:
    """Step the manual clock to ``t`` (every tick up to and including ``t``)."""
    dt = t - gw.clock.now()
    assert dt >= timedelta(0), f"the clock is already past {t}"
    if dt:
        await gw.advance(dt)


def step() -> Contract:
    return Stock("STEP", "SMART", "USD")


def htb() -> Contract:
    return Stock("HTB", "SMART", "USD")


def path(trade: Trade) -> list[str]:
    """The statuses trade.log went through, repeats folded."""
    out: list[str] = []
    for entry in trade.log:
        if not out or out[-1] != entry.status:
            out.append(entry.status)
    return out


def fills(trade: Trade) -> list[tuple[float, float]]:
    return [(f.execution.shares, f.execution.price) for f in trade.fills]


async def to(gw: Gateway, ib: IB, when: datetime) -> None:
    """Advance the manual clock to ``when`` and let the client read what it was sent."""
    await advance_to(gw, when)
    await settle(ib)
