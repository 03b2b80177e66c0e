"""IB's own time on tick-by-tick data.

ib_insync 0.9.86 stamps every tick-by-tick item with the time of the socket read that brought
it (``Wrapper.tickByTickAllLast`` / ``tickByTickBidAsk`` / ``tickByTickMidPoint`` use
``self.lastTime``) and drops the time IB sent with each one. A strategy then sees wall-clock
arrival times, a batch of prints all at one instant. ``keep_tick_times(ib)`` puts IB's time
back on the items of one IB instance (the decoder calls these wrapper methods by name), so
tick-by-tick times are the exchange's, in whole seconds as IB sends them.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from bot.client.ib import IB

_MARK = "_ibbot_tick_times"


def keep_tick_times(ib: IB) -> None:
    """Idempotent: wrap the instance's three tick-by-tick handlers once."""
    w: Any = ib.wrapper
    if getattr(w, _MARK, False):
        return
    setattr(w, _MARK, True)
    all_last, bid_ask, mid = w.tickByTickAllLast, w.tickByTickBidAsk, w.tickByTickMidPoint

    def tick_by_tick_all_last(req_id: int, tick_type: int, time: int, *rest: Any) -> None:
        all_last(req_id, tick_type, time, *rest)
        _restamp(w, req_id, time)

    def tick_by_tick_bid_ask(req_id: int, time: int, *rest: Any) -> None:
        bid_ask(req_id, time, *rest)
        _restamp(w, req_id, time)

    def tick_by_tick_mid_point(req_id: int, time: int, *rest: Any) -> None:
        mid(req_id, time, *rest)
        _restamp(w, req_id, time)

    w.tickByTickAllLast = tick_by_tick_all_last
    w.tickByTickBidAsk = tick_by_tick_bid_ask
    w.tickByTickMidPoint = tick_by_tick_mid_point


def _restamp(w: Any, req_id: int, time: int) -> None:
    ticker = w.reqId2Ticker.get(req_id)
    if ticker is not None and ticker.tickByTicks:
        item = ticker.tickByTicks[-1]  # a NamedTuple (TickByTickAllLast, ...)
        ticker.tickByTicks[-1] = item._replace(time=datetime.fromtimestamp(time, UTC))
