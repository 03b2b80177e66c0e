"""bot/market_data/tick_times.py: tick-by-tick items keep IB's own time, not the socket read's."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ib_insync import IB, Contract, Ticker
from ib_insync.objects import TickAttribBidAsk, TickAttribLast

from bot.market_data.tick_times import keep_tick_times

SENT = 1_760_000_000  # the time IB put on the message (epoch seconds)


def _ib() -> tuple[IB, Ticker]:
    ib = IB()
    ticker = Ticker(contract=Contract(conId=1))
    ticker.tickByTicks = []
    ib.wrapper.reqId2Ticker[7] = ticker
    ib.wrapper.lastTime = datetime(2030, 1, 1, tzinfo=UTC)  # the read's wall-clock time
    return ib, ticker


def test_ib_insync_alone_stamps_the_read_time() -> None:
    ib, ticker = _ib()
    ib.wrapper.tickByTickAllLast(7, 1, SENT, 10.0, 100.0, TickAttribLast(), "", "")
    assert ticker.tickByTicks[-1].time == datetime(2030, 1, 1, tzinfo=UTC)  # why this exists


def test_every_kind_keeps_the_time_ib_sent_once_wrapped() -> None:
    ib, ticker = _ib()
    keep_tick_times(ib)
    keep_tick_times(ib)  # idempotent: wrapped once
    sent = datetime.fromtimestamp(SENT, UTC)
    ib.wrapper.tickByTickAllLast(7, 2, SENT, 10.0, 100.0, TickAttribLast(), "Q", "")
    ib.wrapper.tickByTickBidAsk(7, SENT + 1, 9.9, 10.1, 5.0, 6.0, TickAttribBidAsk())
    ib.wrapper.tickByTickMidPoint(7, SENT + 2, 10.0)
    last, quote, mid = ticker.tickByTicks
    assert (last.time, last.price, last.size, last.exchange) == (sent, 10.0, 100.0, "Q")
    assert (quote.time, quote.bidPrice, quote.askSize) == (sent + timedelta(seconds=1), 9.9, 6.0)
    assert (mid.time, mid.midPoint) == (datetime.fromtimestamp(SENT + 2, UTC), 10.0)
