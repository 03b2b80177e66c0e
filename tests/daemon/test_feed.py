"""Feed and bar aggregation against a small fake of the ib_insync calls the feed makes."""

from __future__ import annotations

import asyncio
import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from ib_insync import (
    BarData,
    Contract,
    RealTimeBar,
    TickAttribBidAsk,
    TickAttribLast,
    TickByTickAllLast,
    TickByTickBidAsk,
    TickByTickMidPoint,
    Ticker,
)
from support.fake_ib import FakeIB
from support.times import NY, T0

from bot.market_data.bar_builder import BarBuilder, QualityLog, bucket_start, price_problem
from bot.market_data.data_lines import DataLinesExceeded
from bot.market_data.history_pacing import HistoryGovernor, HistoryLimits
from bot.market_data.ib_feed import Feed, StreamKey, duration_seconds
from bot.model.events import Bar, Tick

S5 = timedelta(seconds=5)


def rtb(t: datetime, o: float, h: float | None = None, lo: float | None = None,
        c: float | None = None, v: float = 10) -> RealTimeBar:  # fmt: skip
    h = o if h is None else h
    lo = o if lo is None else lo
    c = o if c is None else c
    return RealTimeBar(time=t, open_=o, high=h, low=lo, close=c, volume=v)


AAPL = Contract(conId=1, symbol="AAPL", secType="STK", exchange="SMART", currency="USD")
MSFT = Contract(conId=2, symbol="MSFT", secType="STK", exchange="SMART", currency="USD")


def hist(t: datetime, o: float, c: float | None = None, v: float = 100) -> BarData:
    c = o if c is None else c
    return BarData(date=t, open=o, high=max(o, c) + 1, low=min(o, c) - 1, close=c, volume=v)


class Sink:
    def __init__(self) -> None:
        self.bars: list[tuple[str, Bar, bool]] = []
        self.ticks: list[Tick] = []

    def on_bar(self, key: StreamKey, bar: Bar, live: bool) -> None:
        self.bars.append((key.symbol, bar, live))

    def on_tick(self, tick: Tick) -> None:
        self.ticks.append(tick)

    def live(self, symbol: str | None = None) -> list[Bar]:
        return [b for s, b, live in self.bars if live and (symbol is None or s == symbol)]

    def warm(self) -> list[Bar]:
        return [b for _, b, live in self.bars if not live]


def make_feed(ib: FakeIB, *symbols: tuple[str, Contract], size: str = "15 mins",
              size_s: int = 900, source: str = "realtime") -> tuple[Feed, Sink]:  # fmt: skip
    sink = Sink()
    feed = Feed(ib, sink.on_bar, sink.on_tick)  # type: ignore[arg-type]
    for sym, c in symbols:
        feed.add_bars(sym, c, NY, bar_size=size, size_s=size_s, what_to_show="TRADES",
                      use_rth=True, warmup="1 D", source=source)  # fmt: skip
    return feed, sink


# ---- pure pieces ------------------------------------------------------------------------------


def test_bucket_alignment_follows_the_exchange_clock() -> None:
    t = datetime(2024, 3, 4, 14, 52, 35, tzinfo=UTC)  # 09:52:35 New York
    assert bucket_start(t, 900, NY) == datetime(2024, 3, 4, 14, 45, tzinfo=UTC)
    # India is UTC+05:30: an hourly bar closes at :30 UTC, on the hour in Mumbai.
    kolkata = ZoneInfo("Asia/Kolkata")
    assert bucket_start(t, 3600, kolkata) == datetime(2024, 3, 4, 14, 30, tzinfo=UTC)
    # A daily bucket starts at the exchange's midnight.
    assert bucket_start(t, 86400, NY) == datetime(2024, 3, 4, 5, 0, tzinfo=UTC)


def test_price_problems() -> None:
    assert price_problem(1, 2, 0.5, 1.5) is None
    assert price_problem(math.nan, 2, 0.5, 1.5) == "nan"
    assert price_problem(1, 2, 0, 1.5) == "non-positive"
    assert price_problem(1, 0.5, 2, 1.5) == "high<low"


def test_duration_seconds_compares_ib_durations() -> None:
    assert duration_seconds("10 D") > duration_seconds("1 W")
    assert duration_seconds("1 Y") > duration_seconds("11 M")
    with pytest.raises(ValueError):
        duration_seconds("ten days")


def test_builder_emits_each_bar_once_when_its_last_5s_bar_arrives() -> None:
    out: list[Bar] = []
    b = BarBuilder("AAPL", 900, NY, out.append)
    for i in range(180):
        assert b.add(T0 + i * S5, 100 + i, 101 + i, 99 + i, 100.5 + i, 2)
        assert len(out) == (1 if i == 179 else 0)
    bar = out[0]
    assert (bar.time, bar.size_s, bar.end) == (T0, 900, T0 + timedelta(minutes=15))
    assert (bar.open, bar.high, bar.low, bar.close, bar.volume) == (100, 280, 99, 279.5, 360)
    b.flush(T0 + timedelta(hours=1))  # nothing open: nothing more
    assert len(out) == 1


def test_builder_closes_on_a_later_bucket_or_a_flush_when_the_last_5s_bar_is_missing() -> None:
    out: list[Bar] = []
    b = BarBuilder("AAPL", 60, NY, out.append)
    for i in range(10):  # 15:00:00 .. 15:00:45, then silence
        b.add(T0 + i * S5, 10, 10, 10, 10, 1)
    assert out == []
    b.add(T0 + timedelta(seconds=65), 11, 11, 11, 11, 1)  # next minute closes the first
    assert [x.time for x in out] == [T0]
    b.flush(T0 + timedelta(seconds=119))
    assert len(out) == 1
    b.flush(T0 + timedelta(seconds=120))
    assert [x.time for x in out] == [T0, T0 + timedelta(minutes=1)]
    assert not b.add(T0 + timedelta(seconds=100), 1, 1, 1, 1, 1)  # too late: already handed on


def test_5_second_bars_pass_straight_through() -> None:
    out: list[Bar] = []
    b = BarBuilder("AAPL", 5, NY, out.append)
    for i in range(3):
        b.add(T0 + i * S5, 10 + i, 11 + i, 9 + i, 10 + i, 1)
    assert [x.open for x in out] == [10, 11, 12]


def test_quality_log_counts_by_symbol_and_reason() -> None:
    q = QualityLog(first=1, every=2)
    q.drop("AAPL", "nan", "bar")
    q.drop("AAPL", "nan", "bar")
    q.drop("MSFT", "duplicate", "tick")
    assert q.counts == {("AAPL", "nan"): 2, ("MSFT", "duplicate"): 1}
    assert q.total == 3 and q.by_reason() == {"nan": 2, "duplicate": 1}


# ---- the feed ------------------------------------------------------------------------------


async def test_warm_up_then_live_hands_each_bar_on_once_across_the_seam() -> None:
    now = T0 + timedelta(minutes=20)  # 15:20: the 15:15 bar is in progress
    history = {1: [hist(T0 - timedelta(minutes=15), 99), hist(T0, 100, 101),
                   hist(T0 + timedelta(minutes=15), 101, 102, v=50)]}  # fmt: skip
    ib = FakeIB(now, history)
    feed, sink = make_feed(ib, ("AAPL", AAPL))
    # 5-second bars that arrive while the history request is in flight are buffered; one of
    # them (15:14:55) falls in a bar warm-up already handed on.
    ib.on_history.append(lambda: ib.push(1, rtb(T0 + timedelta(seconds=895), 500)))
    ib.on_history.append(lambda: ib.push(1, rtb(now, 103, 104, 102, 103.5, 5)))
    await feed.start()
    warm = sink.warm()
    assert [b.time for b in warm] == [T0 - timedelta(minutes=15), T0]
    assert sink.live() == []
    # Live 5-second bars up to 15:29:55 complete the seeded 15:15 bar.
    t = now + S5
    while t < T0 + timedelta(minutes=30):
        ib.push(1, rtb(t, 103, 103, 103, 103, 1))
        t += S5
    (bar,) = sink.live()
    assert bar.time == T0 + timedelta(minutes=15)
    assert (bar.open, bar.high, bar.close) == (101, 104, 103)
    assert bar.low == 100  # from the warm-up part of the bar
    assert bar.volume == 50 + 5 + 119  # history part + buffered + live bars
    assert feed.quality.total == 0


async def test_bad_duplicate_and_out_of_order_5s_bars_are_dropped_and_counted() -> None:
    ib = FakeIB(T0)
    feed, sink = make_feed(ib, ("AAPL", AAPL), size="1 min", size_s=60)
    await feed.start()
    ib.push(1, rtb(T0, 10))
    ib.push(1, rtb(T0 + S5, math.nan))
    ib.push(1, rtb(T0 + S5, -1))
    ib.push(1, rtb(T0 + S5, 10, 12, 9, 11))
    ib.push(1, rtb(T0 + S5, 10))  # duplicate time
    ib.push(1, rtb(T0, 10))  # out of order
    for i in range(2, 12):
        ib.push(1, rtb(T0 + i * S5, 10))
    (bar,) = sink.live()
    assert (bar.high, bar.low) == (12, 9)
    assert feed.quality.counts == {
        ("AAPL", "nan"): 1,
        ("AAPL", "non-positive"): 1,
        ("AAPL", "duplicate"): 1,
        ("AAPL", "out-of-order"): 1,
    }


async def test_a_quiet_symbol_closes_when_the_market_clock_passes_grace() -> None:
    ib = FakeIB(T0)
    feed, sink = make_feed(ib, ("AAPL", AAPL), ("MSFT", MSFT), size="1 min", size_s=60)
    await feed.start()
    ib.push(1, rtb(T0, 10))  # AAPL trades once, then falls silent
    for i in range(0, 13):  # MSFT keeps the clock going to 15:01:05
        ib.push(2, rtb(T0 + i * S5, 20))
    assert [b.time for b in sink.live("AAPL")] == []
    ib.push(2, rtb(T0 + 13 * S5, 20))  # clock 15:01:10 = 15:01:00 + 10 s grace
    assert [b.time for b in sink.live("AAPL")] == [T0]
    assert [b.time for b in sink.live("MSFT")] == [T0]


async def test_one_subscription_per_contract_and_bar_spec() -> None:
    ib = FakeIB(T0)
    sink = Sink()
    feed = Feed(ib, sink.on_bar)  # type: ignore[arg-type]
    k1 = feed.add_bars("AAPL", AAPL, NY, bar_size="15 mins", size_s=900, what_to_show="TRADES",
                       use_rth=True, warmup="2 D")  # fmt: skip
    k2 = feed.add_bars("AAPL", AAPL, NY, bar_size="15 mins", size_s=900, what_to_show="TRADES",
                       use_rth=True, warmup="1 W")  # fmt: skip
    k3 = feed.add_bars("AAPL", AAPL, NY, bar_size="5 mins", size_s=300, what_to_show="TRADES",
                       use_rth=True, warmup="1 D")  # fmt: skip
    assert k1 == k2 != k3
    await feed.start()
    assert sorted(ib.hist_calls) == [(1, "1 D", "5 mins"), (1, "1 W", "15 mins")]
    feed.stop()
    assert ib.cancelled == ["rt:1", "rt:1"]


async def test_reconnect_resubscribes_without_handing_a_bar_on_twice() -> None:
    history = {1: [hist(T0 + timedelta(minutes=m), 100 + m) for m in range(0, 3)]}
    ib = FakeIB(T0 + timedelta(minutes=2, seconds=30), history)
    feed, sink = make_feed(ib, ("AAPL", AAPL), size="1 min", size_s=60)
    await feed.start()
    assert [b.time for b in sink.warm()] == [T0, T0 + timedelta(minutes=1)]
    for i in range(6):  # completes the seeded 15:02 bar
        ib.push(1, rtb(T0 + timedelta(minutes=2, seconds=30) + i * S5, 102))
    assert [b.time for b in sink.live()] == [T0 + timedelta(minutes=2)]
    # Disconnected from 15:03 to 15:05:30; history now holds 15:00 .. 15:05 (in progress).
    ib.connected = False
    feed.stop()
    ib.connected = True
    ib.history = {1: [hist(T0 + timedelta(minutes=m), 100 + m) for m in range(0, 6)]}
    ib.now = T0 + timedelta(minutes=5, seconds=30)
    await feed.start()
    warm = [b.time for b in sink.warm()]
    assert warm == [T0 + timedelta(minutes=m) for m in (0, 1, 3)]  # 15:02 not again
    # The backfill asked for just the gap (15:03 .. now, and the bar in progress), up to the
    # server's time; 15:04, closed within a bar interval, was still fresh enough to act on.
    assert ib.hist_calls[-1] == (1, f"{150 + 60} S", "1 min")
    assert ib.hist_ends[-1] == "20240304 15:05:30 UTC"
    for i in range(6):
        ib.push(1, rtb(T0 + timedelta(minutes=5, seconds=30) + i * S5, 105))
    assert [b.time for b in sink.live()] == [T0 + timedelta(minutes=m) for m in (2, 4, 5)]


async def test_a_backfill_lost_with_the_socket_is_not_repeated_within_15_seconds() -> None:
    history = {1: [hist(T0 + timedelta(minutes=m), 100 + m) for m in range(0, 3)]}
    ib = FakeIB(T0 + timedelta(minutes=2, seconds=30), history)
    feed, sink = make_feed(ib, ("AAPL", AAPL), size="1 min", size_s=60)
    await feed.start()
    ib.history = {1: [hist(T0 + timedelta(minutes=m), 100 + m) for m in range(0, 6)]}
    ib.now = T0 + timedelta(minutes=5, seconds=30)

    def socket_lost() -> None:
        ib.on_history.clear()
        ib.connected = False
        raise ConnectionError("Socket disconnect")

    ib.on_history.append(socket_lost)  # the gap's backfill goes out, its answer never comes
    feed.stop()
    with pytest.raises(ConnectionError):
        await feed.start()
    feed.stop()
    ib.connected = True  # back within the same server second: the same request would be
    await asyncio.wait_for(feed.start(), 2)  # identical (IB: 162, the governor: a 15 s wait)
    assert [c[1] for c in ib.hist_calls[-2:]] == ["270 S", "330 S"]  # a bar more instead
    assert ib.hist_ends[-2] == ib.hist_ends[-1] == "20240304 15:05:30 UTC"
    assert [b.time for b in sink.warm()] == [T0 + timedelta(minutes=m) for m in (0, 1, 2, 3)]
    assert [b.time for b in sink.live()] == [T0 + timedelta(minutes=4)]  # each bar once


# ---- keepUpToDate bars ------------------------------------------------------------------------

M = timedelta(minutes=1)


def kutd_feed(ib: FakeIB) -> tuple[Feed, Sink]:
    return make_feed(ib, ("AAPL", AAPL), size="1 min", size_s=60, source="keep_up_to_date")


async def test_keep_up_to_date_hands_a_bar_on_once_when_the_next_one_starts() -> None:
    now = T0 + 2 * M + timedelta(seconds=30)  # 15:02:30: the 15:02 bar is in progress
    ib = FakeIB(now, {1: [hist(T0, 100), hist(T0 + M, 101), hist(T0 + 2 * M, 102)]})
    feed, sink = kutd_feed(ib)
    await feed.start()
    assert ib.rt == {}  # no real-time bars: the history request is the subscription
    assert [b.time for b in sink.warm()] == [T0, T0 + M]
    assert sink.live() == []  # 15:02 is still in progress
    ib.update(1, hist(T0 + 2 * M, 102, 103, v=150))  # 15:02 grows: nothing yet
    ib.update(1, hist(T0 + 2 * M, 102, 103, v=150))  # the same again: ignored by ib_insync
    assert sink.live() == [] and feed.last_price["AAPL"] == 103
    ib.update(1, hist(T0 + 3 * M, 103))  # 15:03 starts: 15:02 is closed, as last updated
    (bar,) = sink.live()
    assert (bar.time, bar.open, bar.close, bar.volume, bar.size_s) == (
        T0 + 2 * M,
        102,
        103,
        150,
        60,
    )
    ib.update(1, hist(T0 + 3 * M, 103, 104))
    ib.update(1, hist(T0 + 4 * M, math.nan))  # 15:04 starts with a bad price
    ib.update(1, hist(T0 + 5 * M, 105))  # 15:05 starts: 15:04 dropped, counted
    assert [b.time for b in sink.live()] == [T0 + 2 * M, T0 + 3 * M]
    assert sink.live()[1].close == 104
    assert feed.quality.counts == {("AAPL", "nan"): 1}
    assert feed.clock == T0 + 4 * M
    feed.stop()
    assert ib.cancelled == ["hist:1"]
    ib.update(1, hist(T0 + 6 * M, 106))  # after the stop: nothing
    assert len(sink.live()) == 2


async def test_keep_up_to_date_updates_during_the_warm_up_arrive_once_at_the_seam() -> None:
    now = T0 + M + timedelta(seconds=55)  # 15:01:55
    ib = FakeIB(now, {1: [hist(T0, 100), hist(T0 + M, 101)]})
    # IB's updates overtake the bot: 15:01 closes and 15:02 starts before the warm-up is read.
    ib.early_updates = [hist(T0 + M, 101, 102), hist(T0 + 2 * M, 102)]
    feed, sink = kutd_feed(ib)
    await feed.start()
    assert [b.time for b in sink.warm()] == [T0]
    assert [(b.time, b.close) for b in sink.live()] == [(T0 + M, 102)]  # live, once
    ib.update(1, hist(T0 + 2 * M, 102, 99))
    ib.update(1, hist(T0 + 3 * M, 99))
    assert [b.time for b in sink.live()] == [T0 + M, T0 + 2 * M]


async def test_keep_up_to_date_reconnect_never_hands_a_bar_on_twice() -> None:
    ib = FakeIB(T0 + M + timedelta(seconds=30), {1: [hist(T0, 100), hist(T0 + M, 101)]})
    feed, sink = kutd_feed(ib)
    await feed.start()
    ib.update(1, hist(T0 + 2 * M, 102))  # 15:01 live
    ib.connected = False
    feed.stop()
    assert ib.cancelled == []  # not connected: nothing to cancel
    ib.connected = True
    # Back at 15:04:30; 15:02 and 15:03 closed while away.
    ib.history = {1: [hist(T0 + m * M, 100 + m) for m in range(5)]}
    ib.now = T0 + 4 * M + timedelta(seconds=30)
    await feed.start()
    # 15:02 as warm-up; 15:03, closed 30 s ago, live; keepUpToDate takes no endDateTime.
    assert [b.time for b in sink.warm()] == [T0, T0 + 2 * M]
    assert ib.hist_ends[-1] == ""
    ib.update(1, hist(T0 + 5 * M, 105))
    assert [b.time for b in sink.live()] == [T0 + M, T0 + 3 * M, T0 + 4 * M]


async def test_a_realtime_and_a_keep_up_to_date_stream_are_two_subscriptions() -> None:
    ib = FakeIB(T0)
    feed = Feed(ib, Sink().on_bar)  # type: ignore[arg-type]
    kw = dict(bar_size="1 min", size_s=60, what_to_show="TRADES", use_rth=True, warmup="1 D")
    k1 = feed.add_bars("AAPL", AAPL, NY, **kw)  # type: ignore[arg-type]
    k2 = feed.add_bars("AAPL", AAPL, NY, source="keep_up_to_date", **kw)  # type: ignore[arg-type]
    assert k1 != k2 and (k1.source, k2.source) == ("realtime", "keep_up_to_date")
    with pytest.raises(ValueError, match="bad bar source 'bars'"):
        feed.add_bars("AAPL", AAPL, NY, source="bars", **kw)  # type: ignore[arg-type]


async def test_ticks_are_cleaned_before_strategies_see_them() -> None:
    ib = FakeIB(T0)
    sink = Sink()
    feed = Feed(ib, sink.on_bar, sink.on_tick)  # type: ignore[arg-type]
    feed.add_ticks("AAPL", AAPL)
    await feed.start()
    ticker = ib.tickers[1]

    def send(t: datetime, bid: float, ask: float, last: float) -> None:
        ticker.time, ticker.bid, ticker.ask, ticker.last = t, bid, ask, last
        ticker.updateEvent.emit(ticker)

    send(T0, 9.99, 10.01, 10.0)
    send(T0, 9.99, 10.01, 10.0)  # duplicate
    send(T0 + S5, math.nan, math.nan, math.nan)  # nothing known
    send(T0 + S5, -1, 10.01, 10.0)  # non-positive
    send(T0 - S5, 9.98, 10.0, 9.99)  # out of order
    send(T0 + S5, 10.0, 10.02, math.nan)  # no trade yet: still a quote
    assert [(t.bid, t.time) for t in sink.ticks] == [(9.99, T0), (10.0, T0 + S5)]
    assert math.isnan(sink.ticks[1].last)
    assert feed.quality.by_reason() == {
        "duplicate": 1, "nan": 1, "non-positive": 1, "out-of-order": 1,
    }  # fmt: skip
    assert feed.last_price["AAPL"] == pytest.approx(10.01)
    feed.stop()
    assert ib.cancelled == ["mkt:1"]


async def test_tick_times_follow_the_market_clock_when_the_wall_clock_disagrees() -> None:
    ib = FakeIB(T0)
    sink = Sink()
    feed = Feed(ib, sink.on_bar, sink.on_tick)  # type: ignore[arg-type]
    feed.add_bars("AAPL", AAPL, NY, bar_size="1 min", size_s=60, what_to_show="TRADES",
                  use_rth=True, warmup="1 D")  # fmt: skip
    feed.add_ticks("AAPL", AAPL)
    await feed.start()
    ib.push(1, rtb(T0, 10))  # market clock 15:00:05
    ticker = ib.tickers[1]
    ticker.time, ticker.bid, ticker.ask, ticker.last = T0 + S5, 9.99, 10.01, 10.0
    ticker.updateEvent.emit(ticker)  # arrival agrees with the market: kept
    ticker.time, ticker.bid = T0 + timedelta(days=400), 10.0  # a replay far from the wall clock
    ticker.updateEvent.emit(ticker)
    assert [t.time for t in sink.ticks] == [T0 + S5, T0 + S5]


def _emit_tbt(ticker: Ticker, *items: object) -> None:
    """ib_insync: one socket read's tick-by-tick items in ``tickByTicks``, then updateEvent."""
    ticker.tickByTicks = list(items)  # type: ignore[arg-type]
    ticker.updateEvent.emit(ticker)


def _last(t: datetime, price: float, size: float) -> TickByTickAllLast:
    return TickByTickAllLast(1, t, price, size, TickAttribLast(), "NASDAQ", "")


async def test_tick_by_tick_trades_are_ticks_each_and_bad_ones_are_dropped() -> None:
    ib = FakeIB(T0)
    sink = Sink()
    feed = Feed(ib, sink.on_bar, sink.on_tick)  # type: ignore[arg-type]
    feed.add_tick_by_tick("AAPL", AAPL, "AllLast")
    await feed.start()
    assert ib.tbt_types == {1: "AllLast"} and 1 not in ib.rt
    ticker = ib.tickers[1]
    # Two identical prints in one read are two trades; bad prices and time travel are not.
    _emit_tbt(ticker, _last(T0, 10.0, 100), _last(T0, 10.0, 100), _last(T0, 0.0, 5))
    _emit_tbt(ticker, _last(T0 - S5, 9.9, 1), _last(T0 + S5, math.nan, 0))
    _emit_tbt(ticker, _last(T0 + S5, 10.1, 50))
    assert [(t.time, t.last, t.last_size) for t in sink.ticks] == [
        (T0, 10.0, 100), (T0, 10.0, 100), (T0 + S5, 10.1, 50),
    ]  # fmt: skip
    assert all(math.isnan(t.bid) and math.isnan(t.ask) for t in sink.ticks)
    assert feed.quality.by_reason() == {"non-positive": 1, "out-of-order": 1, "nan": 1}
    assert feed.last_price["AAPL"] == 10.1
    feed.stop()
    assert ib.cancelled == ["tbt:1:AllLast"]


async def test_tick_by_tick_quotes_and_midpoints() -> None:
    ib = FakeIB(T0)
    sink = Sink()
    feed = Feed(ib, sink.on_bar, sink.on_tick)  # type: ignore[arg-type]
    feed.add_tick_by_tick("AAPL", AAPL, "BidAsk")
    feed.add_tick_by_tick("MSFT", MSFT, "MidPoint")
    await feed.start()
    quote = TickByTickBidAsk(T0, 9.99, 10.01, 300, 200, TickAttribBidAsk())
    _emit_tbt(ib.tickers[1], quote, quote)  # the same quote again says nothing new
    _emit_tbt(ib.tickers[2], TickByTickMidPoint(T0, 20.5), TickByTickMidPoint(T0, -1.0))
    aapl, msft = sink.ticks
    assert (aapl.bid, aapl.ask, aapl.bid_size, aapl.ask_size) == (9.99, 10.01, 300, 200)
    assert math.isnan(aapl.last) and math.isnan(aapl.midpoint)
    assert msft.midpoint == 20.5 and math.isnan(msft.bid + msft.ask + msft.last)
    assert feed.quality.by_reason() == {"duplicate": 1, "non-positive": 1}
    assert feed.last_price == {"AAPL": pytest.approx(10.0), "MSFT": 20.5}
    feed.remove_ticks("MSFT")
    assert ib.cancelled == ["tbt:2:MidPoint"] and "MSFT" not in feed.tick_by_tick


async def test_tick_subscriptions_stop_at_the_accounts_market_data_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ib = FakeIB(T0)
    feed = Feed(ib, Sink().on_bar, Sink().on_tick, max_data_lines=1)  # type: ignore[arg-type]
    feed.add_tick_by_tick("AAPL", AAPL, "AllLast")
    feed.add_ticks("MSFT", MSFT)
    await feed.start()
    assert set(ib.tickers) == {1}  # AAPL holds the one line; MSFT is refused, not sent
    assert list(feed.lines.refused.values()) == ["MSFT ticks"]
    assert any("MSFT ticks: not subscribed: all 1 market-data lines are in use" in m
               for m in caplog.messages)  # fmt: skip
    feed.remove_ticks("AAPL")  # a line comes free: the next start takes MSFT
    feed.tick_subs.start()
    assert 2 in ib.tickers and feed.lines.refused == {}


def lines_feed(ib: FakeIB, limit: int) -> tuple[Feed, Sink]:
    sink = Sink()
    # A reconnect here repeats a warm-up at once: IB's 15 s rule is the governor's own test.
    gov = HistoryGovernor(HistoryLimits(identical_s=0))
    feed = Feed(ib, sink.on_bar, sink.on_tick, max_data_lines=limit,  # type: ignore[arg-type]
                governor=gov)  # fmt: skip
    return feed, sink


def bars(feed: Feed, sym: str, c: Contract, source: str = "realtime") -> StreamKey:
    return feed.add_bars(sym, c, NY, bar_size="1 min", size_s=60, what_to_show="TRADES",
                         use_rth=True, warmup="1 D", source=source)  # fmt: skip


GOOG = Contract(conId=3, symbol="GOOG", secType="STK", exchange="SMART", currency="USD")


async def test_bars_keep_up_to_date_and_ticks_share_one_count_of_lines(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ib = FakeIB(T0, {1: [hist(T0, 100)], 2: [hist(T0, 50)]})
    feed, _ = lines_feed(ib, 2)
    bars(feed, "AAPL", AAPL)  # reqRealTimeBars: a line
    bars(feed, "MSFT", MSFT, source="keep_up_to_date")  # the keepUpToDate request: a line
    feed.add_ticks("AAPL", AAPL)  # a third: refused before IB would answer 101
    await feed.start()
    assert set(ib.rt) == {1} and set(ib.kutd) == {2} and ib.tickers == {}
    assert feed.lines.used == 2
    assert ("AAPL ticks: not subscribed: all 2 market-data lines are in use (2 bar streams, 0 "
            "tick subscriptions); raise ib.max_data_lines") in caplog.text
    # The socket lost: IB dropped them all, and the lines with them; the reconnect takes
    # the same two again (no line leaks, none counted twice).
    ib.connected = False
    feed.stop()
    assert feed.lines.used == 0
    ib.connected = True
    await feed.start()
    assert feed.lines.used == 2 and ib.tickers == {}


async def test_a_bar_stream_past_the_lines_sends_nothing_until_a_line_frees(
    caplog: pytest.LogCaptureFixture,
) -> None:
    ib = FakeIB(T0, {1: [hist(T0, 100)], 2: [hist(T0, 50)], 3: [hist(T0, 70)]})
    feed, _ = lines_feed(ib, 2)
    aapl, _ = bars(feed, "AAPL", AAPL), bars(feed, "MSFT", MSFT)
    await feed.start()
    goog = bars(feed, "GOOG", GOOG)  # a scanner's new symbol, the lines all in use
    await feed.start_streams([goog])
    assert set(ib.rt) == {1, 2} and [c[0] for c in ib.hist_calls] == [1, 2]  # nothing for GOOG
    assert feed.streams[goog].warming  # not live: the staleness watchdog leaves it alone
    assert "GOOG 1 min bars: not subscribed: all 2 market-data lines are in use" in caplog.text
    # The scanner's rotation drops AAPL (and adds nothing new): its line comes free and GOOG,
    # still waiting, takes it.
    feed.remove_bars(aapl)
    assert "rt:1" in ib.cancelled and feed.lines.used == 1
    await feed.start_streams([])
    assert 3 in ib.rt and ib.hist_calls[-1][0] == 3 and not feed.streams[goog].warming
    assert feed.lines.used == 2 and feed.lines.refused == {}


def test_a_config_needing_more_lines_than_the_account_has_is_refused_at_start_up() -> None:
    feed, _ = lines_feed(FakeIB(T0), 2)
    bars(feed, "AAPL", AAPL)
    bars(feed, "MSFT", MSFT)
    feed.lines.check(feed.wanted_lines())  # two fit
    feed.add_ticks("GOOG", GOOG)
    with pytest.raises(DataLinesExceeded, match=r"need 3 market-data lines .* "
                       r"ib.max_data_lines is 2: no line for GOOG ticks"):  # fmt: skip
        feed.lines.check(feed.wanted_lines())
