"""Which prices each IB order type carries, after IB's "available orders" page
(https://interactivebrokers.github.io/tws-api/available_orders.html).

Members are ``OrderType`` values, a ``StrEnum``: an ib_insync ``Order.orderType`` string
("STP LMT") is found in these sets as well as the enum member.
"""

from __future__ import annotations

from typing import Final

from bot.model.events import OrderType

# lmtPrice is mandatory.
LIMIT_PRICED: Final = frozenset({OrderType.LIMIT, OrderType.STOP_LIMIT, OrderType.LIMIT_ON_CLOSE})
# auxPrice is the trigger and mandatory.
TRIGGER_PRICED: Final = frozenset(
    {OrderType.STOP, OrderType.STOP_LIMIT, OrderType.MARKET_IF_TOUCHED}
)
# A TRAIL's auxPrice is its trailing amount; it needs that or a trailingPercent, not both.
TRAILING: Final = OrderType.TRAIL
# At-the-close orders exist only as day orders.
AT_THE_CLOSE: Final = frozenset({OrderType.MARKET_ON_CLOSE, OrderType.LIMIT_ON_CLOSE})
