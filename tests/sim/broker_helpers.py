"""Shared helpers of the SimBroker tests: a tiny instrument set, ticks and orders."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ib_insync import Contract, Order

from bot.sim.broker import BrokerConfig, SimBroker
from bot.sim.instruments import Instruments
from bot.sim.types import SimTick

ACCT = "DU1"
AAPL, NOSHORT, EURUSD = 1001, 1002, 1003
# Monday 2024-03-04: US/Eastern is UTC-5, so the regular session is 14:30-21:00 UTC.
OPEN = datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
CLOSE = datetime(2024, 3, 4, 21, 0, tzinfo=UTC)

_STK = {
    "symbol": "AAPL",
    "secType": "STK",
    "exchange": "SMART",
    "primaryExchange": "NASDAQ",
    "currency": "USD",
    "conId": AAPL,
    "minTick": 0.01,
    "timeZoneId": "US/Eastern",
    "longName": "APPLE",
    "tradingHours": "04:00-20:00",
    "liquidHours": "09:30-16:00",
}
INSTRUMENTS = Instruments.from_dict(
    {
        "instruments": [
            _STK,
            {**_STK, "symbol": "HTB", "conId": NOSHORT, "shortable": False},
            {
                "symbol": "EUR",
                "localSymbol": "EUR.USD",
                "secType": "CASH",
                "exchange": "IDEALPRO",
                "currency": "USD",
                "conId": EURUSD,
                "minTick": 0.00005,
                "timeZoneId": "US/Eastern",
                "longName": "EUR",
                "tradingHours": "17:00-17:00",
                "liquidHours": "17:00-17:00",
            },
        ]
    }
)


def broker(cash: float = 100_000.0, **cfg: object) -> SimBroker:
    b = SimBroker(INSTRUMENTS, BrokerConfig(**cfg))  # type: ignore[arg-type]
    b.open_account(ACCT, cash)
    return b


def contract(con_id: int = AAPL) -> Contract:
    return INSTRUMENTS.by_con_id(con_id).contract()


def at(minutes: float) -> datetime:
    return OPEN + timedelta(minutes=minutes)


def tick(
    last: float,
    minute: float = 1,
    spread: float = 0.02,
    size: float = 1000,
    con_id: int = AAPL,
) -> SimTick:
    half = spread / 2
    return SimTick(at(minute), con_id, last, size, last - half, last + half, 500, 500)


def order(order_id: int, action: str, qty: float, kind: str = "MKT", **kw: object) -> Order:
    return Order(orderId=order_id, action=action, totalQuantity=qty, orderType=kind, **kw)
