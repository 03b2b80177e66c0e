"""Orders and cancels ahead of data requests in the client's outgoing queue.

ib_insync and ib_async keep everything the client sends under IB's message rate (45 a second,
``Client.MaxRequests``) with one first-in first-out queue (``Client.sendMsg``). When a burst of
data requests fills it (a reconnect resubscribing every stream, a scan's warm-ups) an order or a
cancel queued behind them waits its turn: a protective stop a second or more late. IB's limit
is on all messages together; which go first is the client's choice. ``prioritize_orders`` makes
the queue put placeOrder, cancelOrder and reqGlobalCancel ahead of every queued data request,
in the order they came; the rate stays what the library enforces.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable
from typing import Any

#: The first field of the messages that go first (ib_insync client.py: placeOrder 3,
#: cancelOrder 4, reqGlobalCancel 58), each followed by the field separator.
ORDER_MESSAGES = ("3\0", "4\0", "58\0")


def is_order_message(msg: str) -> bool:
    return msg.startswith(ORDER_MESSAGES)


def prioritize_orders(client: Any) -> None:
    """Wrap ``client.sendMsg`` (once) so order messages overtake queued data requests. The
    library's throttle re-arms itself through ``self.sendMsg``, which then finds this wrapper
    on the instance."""
    send: Callable[[str | None], None] = client.sendMsg
    if getattr(send, "orders_first", False):
        return

    def send_orders_first(msg: str | None) -> None:
        queue: deque[str] = client._msgQ
        if msg and queue and is_order_message(msg):
            i = 0
            while i < len(queue) and is_order_message(queue[i]):
                i += 1  # behind the orders already waiting: they keep their order
            queue.insert(i, msg)
            msg = None
        send(msg)

    send_orders_first.orders_first = True  # type: ignore[attr-defined]
    client.sendMsg = send_orders_first
