"""Streaming: reqMktData (and snapshots), tick-by-tick, real-time bars, market data type."""

from __future__ import annotations

from datetime import timedelta

from gateway_helpers import DAY2, flat, ramp, ramp_bar, settle
from ib_insync import IB, TickByTickAllLast, TickByTickBidAsk, TickByTickMidPoint, Ticker

from bot.gateway.server import Gateway


def _collect(ib: IB) -> tuple[list, list]:
    ticks: list = []
    tbt: list = []

    def on_pending(tickers: set[Ticker]) -> None:
        for t in tickers:
            ticks.extend(t.ticks)
            tbt.extend(t.tickByTicks)

    ib.pendingTickersEvent += on_pending
    return ticks, tbt


async def test_mkt_data_stream(gateway: Gateway, ib: IB) -> None:
    c = ramp()
    await ib.qualifyContractsAsync(c)
    ticks, _ = _collect(ib)
    ticker = ib.reqMktData(c)
    await settle(ib)
    # before today's first trade: yesterday's last quote and statistics
    assert (ticker.last, ticker.bid, ticker.ask) == (ramp_bar(389)[3], 203.9, 203.91)
    assert ticker.volume == sum(ramp_bar(i)[4] for i in range(390))
    assert ticker.marketDataType == 1 and ticker.minTick == 0.01
    ticks.clear()
    await gateway.advance(timedelta(seconds=60))  # today's first bar: 200.00 .. 200.01
    await settle(ib)
    assert ticker.volume == ramp_bar(0)[4]  # a new day: volume restarted
    assert (ticker.high, ticker.low, ticker.last) == ramp_bar(0)[1:4]
    assert ticker.bid <= ticker.last <= ticker.ask
    trades = [t for t in ticks if t.tickType == 4]
    assert len(trades) == 48  # 12 five-second sub-bars x 4 ticks
    assert sum(t.size for t in trades) == ramp_bar(0)[4]
    assert {t.tickType for t in ticks} >= {1, 2, 4, 6, 7, 8}
    ib.cancelMktData(c)
    await settle(ib)
    ticks.clear()
    await gateway.advance(timedelta(seconds=10))
    await settle(ib)
    assert ticks == []


async def test_snapshot(gateway: Gateway, ib: IB) -> None:
    c = flat()
    await ib.qualifyContractsAsync(c)
    await gateway.advance(timedelta(seconds=5))
    [ticker] = await ib.reqTickersAsync(c)
    assert (ticker.bid, ticker.ask, ticker.last) == (100.0, 100.01, 100.0)
    assert ticker.open == 100.0 and ticker.volume > 0


async def test_tick_by_tick(gateway: Gateway, ib: IB) -> None:
    c = flat()
    await ib.qualifyContractsAsync(c)
    _, tbt = _collect(ib)
    ib.reqTickByTickData(c, "Last")
    ib.reqTickByTickData(ramp(), "AllLast")
    ib.reqTickByTickData(c, "BidAsk")
    ib.reqTickByTickData(c, "MidPoint")
    await settle(ib)
    await gateway.advance(timedelta(seconds=5))
    await settle(ib)
    last = [t for t in tbt if isinstance(t, TickByTickAllLast)]
    assert [t.tickType for t in last].count(1) == 4 and [t.tickType for t in last].count(2) == 4
    assert {t.price for t in last if t.tickType == 1} == {100.0}
    quotes = [t for t in tbt if isinstance(t, TickByTickBidAsk)]
    assert quotes and {(q.bidPrice, q.askPrice) for q in quotes} == {(100.0, 100.01)}
    mids = [t for t in tbt if isinstance(t, TickByTickMidPoint)]
    assert [m.midPoint for m in mids] == [100.005]  # sent once: the midpoint never moved


async def test_real_time_bars(gateway: Gateway, ib: IB) -> None:
    c = ramp()
    await ib.qualifyContractsAsync(c)
    bars = ib.reqRealTimeBars(c, 5, "TRADES", False)
    mids = ib.reqRealTimeBars(flat(), 5, "MIDPOINT", True)
    await settle(ib)
    for _ in range(7):  # uneven steps: every bar exactly once
        await gateway.advance(timedelta(seconds=8.5))
    await settle(ib)
    assert [b.time for b in bars] == [DAY2 + timedelta(seconds=5 * i) for i in range(11)]
    await gateway.advance(timedelta(seconds=0.5))
    await settle(ib)
    first_minute = bars[:12]
    assert len(first_minute) == 12
    assert first_minute[0].open_ == ramp_bar(0)[0] and first_minute[-1].close == ramp_bar(0)[3]
    assert max(b.high for b in first_minute) == ramp_bar(0)[1]
    assert min(b.low for b in first_minute) == ramp_bar(0)[2]
    assert sum(b.volume for b in first_minute) == ramp_bar(0)[4]
    assert {(b.open_, b.close, b.volume) for b in mids} == {(100.005, 100.005, -1.0)}
    ib.cancelRealTimeBars(bars)
    await settle(ib)
    n = len(bars)
    await gateway.advance(timedelta(seconds=20))
    await settle(ib)
    assert len(bars) == n


async def test_market_data_type(gateway: Gateway, ib: IB) -> None:
    c = flat()
    await ib.qualifyContractsAsync(c)
    ib.reqMarketDataType(3)  # delayed requested; the simulator's data is live
    ticker = ib.reqMktData(c)
    await settle(ib)
    assert ticker.marketDataType == 1
    ib.reqMarketDataType(2)  # frozen: only when the contract is not trading
    await settle(ib)
    assert ticker.marketDataType == 1
    await gateway.advance(timedelta(hours=11))  # 20:30 New York: after hours
    ib.reqMarketDataType(2)
    await settle(ib)
    assert ticker.marketDataType == 2


async def test_two_clients_streaming(gateway: Gateway) -> None:
    from gateway_helpers import client

    async with client(gateway, 1) as a, client(gateway, 2) as b:
        ta = a.reqMktData(flat())
        tb = b.reqMktData(flat())
        await settle(a)
        await settle(b)
        await gateway.advance(timedelta(seconds=60))
        await settle(a)
        await settle(b)
        assert ta.volume == tb.volume == 1000
