"""Helpers of the gateway tests: a tiny crafted market on disk and a gateway with a manual
clock on a free loopback port, driven through the unmodified ib_insync ``IB``.

The market (2024-01-04 and 2024-01-05, regular hours only, 1-minute bars; 09:30 New York is
14:30 UTC in January):

* FLAT (conId 1001): every bar O=H=L=C. 100.00 throughout, except 101.00 from 10:00 on the
  second day. Its ticks all trade at the bar price with bid = price, ask = price + 0.01, so
  fills are known in advance: a market buy pays 100.01, a market sell gets 100.00 (or 101.00).
* RAMP (conId 1002): bar i of a day opens at 200 + 0.01 i, closes 0.01 higher, high = close +
  0.02, low = open - 0.02, volume 1000 + i: easy to aggregate by hand.
* EUR.USD (conId 1003): CASH, no data file (contract details only).

The gateway starts at the second day's open, 2024-01-05 14:30 UTC.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

from ib_insync import IB, Contract, Forex, Stock
from ib_insync.client import Client

from bot.config.gateway import GatewaySettings
from bot.gateway.server import Gateway, GatewayTuning

DAY1 = datetime(2024, 1, 4, 14, 30, tzinfo=UTC)
DAY2 = datetime(2024, 1, 5, 14, 30, tzinfo=UTC)
START = DAY2
BARS_PER_DAY = 390
ACCOUNT = "DU1234567"
CASH = 1_000_000.0
FLAT_ID, RAMP_ID, EUR_ID = 1001, 1002, 1003

INSTRUMENTS_YAML = """
defaults:
  STK: {exchange: SMART, primaryExchange: NASDAQ, currency: USD, minTick: 0.01, spread: 0.01,
        timeZoneId: US/Eastern, tradingHours: "04:00-20:00", liquidHours: "09:30-16:00"}
instruments:
  - {symbol: FLAT, secType: STK, conId: 1001, longName: FLAT PRICE INC}
  - {symbol: RAMP, secType: STK, conId: 1002, longName: RAMP UP CORP}
  - {symbol: EUR, localSymbol: EUR.USD, secType: CASH, exchange: IDEALPRO, currency: USD,
     conId: 1003, minTick: 0.00005, spread: 0.0001, timeZoneId: US/Eastern,
     tradingHours: "17:00-17:00", liquidHours: "17:00-17:00",
     longName: European Monetary Union Euro}
"""


def flat_price(t: datetime) -> float:
    return 101.0 if t >= DAY2 + timedelta(minutes=30) else 100.0


def ramp_bar(i: int) -> tuple[float, float, float, float, float]:
    o = round(200 + 0.01 * i, 2)
    c = round(o + 0.01, 2)
    return o, round(c + 0.02, 2), round(o - 0.02, 2), c, 1000.0 + i


def write_market(root: Path) -> tuple[Path, Path]:
    data = root / "data"
    data.mkdir()
    flat, ramp = ["time,open,high,low,close,volume"], ["time,open,high,low,close,volume"]
    for day in (DAY1, DAY2):
        for i in range(BARS_PER_DAY):
            t = day + timedelta(minutes=i)
            p = flat_price(t)
            flat.append(f"{t.isoformat()},{p},{p},{p},{p},{1000}")
            o, h, lo, c, v = ramp_bar(i)
            ramp.append(f"{t.isoformat()},{o},{h},{lo},{c},{v}")
    (data / "FLAT.csv").write_text("\n".join(flat) + "\n")
    (data / "RAMP.csv").write_text("\n".join(ramp) + "\n")
    instruments = root / "instruments.yaml"
    instruments.write_text(INSTRUMENTS_YAML)
    return data, instruments


def make_config(
    market_files: tuple[Path, Path], **kw: object
) -> tuple[GatewaySettings, GatewayTuning]:
    """Settings and tuning for ``Gateway(*make_config(...))``: each keyword goes to the one that
    has the field."""
    data, instruments = market_files
    base: dict[str, object] = dict(
        port=0,
        data=data,
        instruments=instruments,
        start=START,
        speed=None,
        account=ACCOUNT,
        cash=CASH,
        seed=1,
    )
    base.update(kw)
    tuning = {k: base.pop(k) for k in list(base) if k in GatewayTuning.__dataclass_fields__}
    return GatewaySettings(**base), GatewayTuning(**tuning)  # type: ignore[arg-type]


@contextlib.asynccontextmanager
async def client(gw: Gateway, client_id: int = 1, **kw: object) -> AsyncIterator[IB]:
    ib = IB()
    await ib.connectAsync("127.0.0.1", gw.port, clientId=client_id, timeout=5, **kw)  # type: ignore[arg-type]
    try:
        yield ib
    finally:
        ib.disconnect()
        await asyncio.sleep(0)


async def settle(ib: IB) -> None:
    """A round trip: everything the gateway sent before it has been read and handled."""
    await ib.reqCurrentTimeAsync()


def flat() -> Contract:
    return Stock("FLAT", "SMART", "USD")


def ramp() -> Contract:
    return Stock("RAMP", "SMART", "USD")


def eurusd() -> Contract:
    return Forex("EURUSD")


def sent(version: int, call: Callable[[Client], None]) -> list[list[str]]:
    """The messages an ib_insync Client writes for ``call``, as field lists."""
    client = Client(wrapper=None)
    client._serverVersion = version
    client.connState = Client.CONNECTED
    messages: list[str] = []
    client.sendMsg = messages.append  # type: ignore[method-assign]
    call(client)
    return [m.split("\0")[:-1] for m in messages]


def errors(ib: IB) -> list[tuple[int, int, str]]:
    """Every (reqId, code, text) the client reports from now on."""
    seen: list[tuple[int, int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: seen.append((req_id, code, text))
    return seen
