"""The simulated market on a tiny hand-made data set: bars, ticks, quotes, bad files.

The crafted AAPL data: Monday 2026-11-23 15:58 and 15:59 ET, then Tuesday 2026-11-24 09:28 to
09:35 ET (US/Eastern is UTC-5 then). Bar i of Tuesday: open 100+i, high open+0.5, low
open-0.5, close open+0.25, volume 100*(i+1); Monday's two: open 90, 91, volume 1000, 2000.
"""

from __future__ import annotations

import gzip
import random
from datetime import UTC, date, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from ib_insync import BarData

from bot.sim.bridge import bar_keys, bar_paths
from bot.sim.clock import SimClock
from bot.sim.datafile import DataFileError
from bot.sim.instruments import DEFAULT_INSTRUMENTS_FILE, Instruments
from bot.sim.market import Market

INSTRUMENTS = Instruments.load(DEFAULT_INSTRUMENTS_FILE)
AAPL = 265598
SAMPLE = Path(__file__).resolve().parents[2] / "data" / "sample"


def utc(y: int, mo: int, d: int, h: int = 0, mi: int = 0, s: int = 0) -> datetime:
    return datetime(y, mo, d, h, mi, s, tzinfo=UTC)


def crafted_rows() -> list[tuple[datetime, float, float, float, float, float]]:
    rows = [
        (utc(2026, 11, 23, 20, 58 + i), 90.0 + i, 90.5 + i, 89.5 + i, 90.25 + i, 1000.0 * (i + 1))
        for i in range(2)
    ]
    for i in range(8):
        o = 100.0 + i
        rows.append((utc(2026, 11, 24, 14, 28 + i), o, o + 0.5, o - 0.5, o + 0.25, 100.0 * (i + 1)))
    return rows


def write_csv(path: Path, rows: list[tuple[datetime, float, float, float, float, float]]) -> Path:
    lines = ["time,open,high,low,close,volume"]
    lines += [f"{t:%Y-%m-%dT%H:%M:%SZ},{o},{h},{lo},{c},{v:.0f}" for t, o, h, lo, c, v in rows]
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.fixture
def market(tmp_path: Path) -> Market:
    write_csv(tmp_path / "AAPL.csv", crafted_rows())
    return Market.load(tmp_path, INSTRUMENTS, seed=7)


def hist(
    m: Market,
    now: datetime,
    duration: str,
    size: str,
    rth: bool,
    what: str = "TRADES",
    end: datetime | None = None,
) -> list[BarData]:
    return m.history.historical_bars(AAPL, end or now, duration, size, what, rth, now)


def ohlcv(bars: list[BarData]) -> list[tuple[object, float, float, float, float, float]]:
    return [(b.date, b.open, b.high, b.low, b.close, b.volume) for b in bars]


# ---- historical bars ---------------------------------------------------------------------------

NOW = utc(2026, 11, 24, 14, 36)


def test_one_minute_bars_are_the_source_bars_rth_or_all_hours(market: Market) -> None:
    rth = hist(market, NOW, "1 D", "1 min", True)
    assert [b.date for b in rth] == [utc(2026, 11, 24, 14, 30 + i) for i in range(6)]
    assert ohlcv(rth)[0] == (utc(2026, 11, 24, 14, 30), 102.0, 102.5, 101.5, 102.25, 300.0)
    assert len(hist(market, NOW, "1 D", "1 min", False)) == 8
    two_days = hist(market, NOW, "2 D", "1 min", True)
    assert len(two_days) == 8 and two_days[0].date == utc(2026, 11, 23, 20, 58)
    assert len(hist(market, NOW, "300 S", "1 min", False)) == 5  # 14:31 .. 14:35


def test_intraday_buckets_align_to_the_clock_in_exchange_time(market: Market) -> None:
    assert ohlcv(hist(market, NOW, "1 D", "2 mins", True)) == [
        (utc(2026, 11, 24, 14, 30), 102.0, 103.5, 101.5, 103.25, 700.0),
        (utc(2026, 11, 24, 14, 32), 104.0, 105.5, 103.5, 105.25, 1100.0),
        (utc(2026, 11, 24, 14, 34), 106.0, 107.5, 105.5, 107.25, 1500.0),
    ]
    assert ohlcv(hist(market, NOW, "1 D", "2 mins", False))[0] == (
        utc(2026, 11, 24, 14, 28),
        100.0,
        101.5,
        99.5,
        101.25,
        300.0,
    )
    # An hour bar cut by the 09:30 open is dated at the open, as IB does; all hours: 09:00.
    assert ohlcv(hist(market, NOW, "1 D", "1 hour", True)) == [
        (utc(2026, 11, 24, 14, 30), 102.0, 107.5, 101.5, 107.25, 3300.0)
    ]
    assert ohlcv(hist(market, NOW, "1 D", "1 hour", False)) == [
        (utc(2026, 11, 24, 14), 100.0, 107.5, 99.5, 107.25, 3600.0)
    ]


def test_daily_bars_are_per_trading_day_and_dated(market: Market) -> None:
    assert ohlcv(hist(market, NOW, "2 D", "1 day", True)) == [
        (date(2026, 11, 23), 90.0, 91.5, 89.5, 91.25, 3000.0),
        (date(2026, 11, 24), 102.0, 107.5, 101.5, 107.25, 3300.0),
    ]
    assert ohlcv(hist(market, NOW, "1 W", "1 day", False))[-1] == (
        date(2026, 11, 24),
        100.0,
        107.5,
        99.5,
        107.25,
        3600.0,
    )
    assert (
        len(hist(market, NOW, "1 M", "1 day", True)) == 2
        and len(hist(market, NOW, "1 Y", "1 day", True)) == 2
    )


def test_last_bar_is_partial_and_nothing_comes_from_after_now(market: Market) -> None:
    now = utc(2026, 11, 24, 14, 33, 30)
    bars = hist(market, now, "1 D", "1 min", True, end=utc(2026, 11, 24, 15))
    assert [b.date for b in bars] == [utc(2026, 11, 24, 14, 30 + i) for i in range(4)]
    last = bars[-1]
    assert last.open == 105.0 and 104.5 <= last.low <= last.high <= 105.5
    assert 0 < last.volume < 600 and last.barCount == 24  # 30 s of ticks every 1.25 s
    assert last.close == market.quote(AAPL, now).last
    assert ohlcv(bars[:3]) == ohlcv(hist(market, NOW, "1 D", "1 min", True)[:3])


def test_end_before_now_gives_complete_bars(market: Market) -> None:
    bars = hist(market, utc(2026, 11, 24, 15), "1 D", "1 min", True, end=utc(2026, 11, 24, 14, 32))
    assert [b.date for b in bars] == [utc(2026, 11, 24, 14, 30), utc(2026, 11, 24, 14, 31)]
    assert hist(market, utc(2026, 11, 20), "1 D", "1 min", False) == []


def test_five_second_bars_add_up_to_the_source_bars(market: Market) -> None:
    now = utc(2026, 11, 24, 14, 34)
    bars = hist(market, now, "120 S", "5 secs", True)
    assert [b.date for b in bars] == [
        utc(2026, 11, 24, 14, 32) + timedelta(seconds=5 * i) for i in range(24)
    ]
    for minute, src in ((bars[:12], crafted_rows()[6]), (bars[12:], crafted_rows()[7])):
        _, o, h, lo, c, v = src
        assert minute[0].open == o and minute[-1].close == c
        assert max(b.high for b in minute) == h and min(b.low for b in minute) == lo
        assert sum(b.volume for b in minute) == v
    thirty = hist(market, now, "1 D", "30 secs", True)
    assert [b.volume for b in thirty[-2:]] == [
        sum(b.volume for b in bars[12:18]),
        sum(b.volume for b in bars[18:]),
    ]


def test_realtime_bars_lie_wholly_inside_the_window(market: Market) -> None:
    t0, t1 = utc(2026, 11, 24, 14, 33), utc(2026, 11, 24, 14, 33, 32)
    rt = market.history.five_second_bars(AAPL, t0, t1)
    assert [b.time.second for b in rt] == [0, 5, 10, 15, 20, 25]
    assert rt[0].open_ == 105.0 and all(104.5 <= b.low <= b.high <= 105.5 for b in rt)
    ticks = [t for t in market.ticks(utc(2026, 11, 24, 14, 33), utc(2026, 11, 24, 14, 33, 30))]
    assert sum(b.volume for b in rt) == sum(t.last_size for t in ticks)


@pytest.mark.parametrize("what", ["MIDPOINT", "BID", "ASK"])
def test_quote_based_bars_bracket_the_trades(market: Market, what: str) -> None:
    trades = hist(market, NOW, "1 D", "1 min", True)
    bid, ask = (
        hist(market, NOW, "1 D", "1 min", True, "BID"),
        hist(market, NOW, "1 D", "1 min", True, "ASK"),
    )
    shown = hist(market, NOW, "1 D", "1 min", True, what)
    for t, b, a, s in zip(trades, bid, ask, shown, strict=True):
        for f in ("open", "high", "low", "close"):
            assert getattr(b, f) <= getattr(t, f) <= getattr(a, f)
            assert getattr(a, f) - getattr(b, f) == pytest.approx(0.01)
        assert s.volume == -1 and s.date == t.date
    if what == "MIDPOINT":
        assert all(
            s.close == pytest.approx((b.close + a.close) / 2)
            for s, b, a in zip(shown, bid, ask, strict=True)
        )


@pytest.mark.parametrize(
    ("duration", "size", "what", "needle"),
    [
        ("1 D", "7 mins", "TRADES", "bar size"),
        ("1 D", "1 sec", "TRADES", "bar size"),
        ("1 X", "1 min", "TRADES", "duration"),
        ("D", "1 min", "TRADES", "duration"),
        ("1 D", "1 min", "TRADEZ", "whatToShow"),
    ],
)
def test_bad_requests_raise_ib_like_errors(
    market: Market, duration: str, size: str, what: str, needle: str
) -> None:
    with pytest.raises(ValueError, match=needle):
        market.history.historical_bars(AAPL, NOW, duration, size, what, True, NOW)
    with pytest.raises(KeyError):
        market.history.historical_bars(1, NOW, "1 D", "1 min", "TRADES", True, NOW)


def test_weekend_request_returns_the_last_session(market: Market) -> None:
    saturday = utc(2026, 11, 28, 12)
    bars = hist(market, saturday, "1 D", "1 min", False)
    assert len(bars) == 8 and bars[0].date == utc(2026, 11, 24, 14, 28)


def test_head_timestamp_quote_and_day_stats(market: Market) -> None:
    assert market.history.head_timestamp(AAPL, "TRADES", True) == utc(2026, 11, 23, 20, 58)
    now = utc(2026, 11, 24, 14, 33, 30)
    q = market.quote(AAPL, now)
    assert q.time <= now and q.bid <= q.last <= q.ask and q.ask - q.bid == pytest.approx(0.01)
    assert (q.open, q.prev_close, q.low) == (102.0, 91.25, 99.5)
    assert 104.5 <= q.high <= 105.5 and 1500 < q.volume < 2100
    stats = market.trading_day_stats(AAPL, now)
    assert stats.last == q.last and stats.gap_pct == pytest.approx((102 / 91.25 - 1) * 100)
    before = market.quote(AAPL, utc(2026, 11, 1))
    assert np.isnan(before.last)


# ---- ticks ---------------------------------------------------------------------------------------


def test_ticks_pass_through_each_source_bar(market: Market) -> None:
    ticks = list(market.ticks(utc(2026, 11, 24, 14), utc(2026, 11, 24, 15)))
    assert len(ticks) == 8 * 48
    assert all(a.time <= b.time for a, b in pairwise(ticks))
    for i, (t0, o, h, lo, c, v) in enumerate(crafted_rows()[2:]):
        bar = ticks[48 * i : 48 * (i + 1)]
        assert t0 < bar[0].time and bar[-1].time == t0 + timedelta(minutes=1)
        prices = [t.last for t in bar]
        assert (prices[0], max(prices), min(prices), prices[-1]) == (o, h, lo, c)
        assert sum(t.last_size for t in bar) == v
        assert all(t.bid < t.ask and t.bid <= t.last <= t.ask for t in bar)


def test_ticks_are_the_same_however_the_window_is_cut(market: Market, tmp_path: Path) -> None:
    t0, t1 = utc(2026, 11, 23, 20), utc(2026, 11, 24, 15)
    whole = list(market.ticks(t0, t1))
    rng = random.Random(3)
    cuts = sorted(
        t0 + timedelta(milliseconds=rng.randrange(int((t1 - t0).total_seconds() * 1000)))
        for _ in range(40)
    )
    edges = [t0, *cuts, t1]
    pieces = [t for a, b in pairwise(edges) for t in market.ticks(a, b)]
    assert pieces == whole
    fresh = Market.load(tmp_path, INSTRUMENTS, seed=7)  # new cache, asked backwards
    assert list(fresh.ticks(utc(2026, 11, 24, 14, 33), t1)) == [
        t for t in whole if t.time > utc(2026, 11, 24, 14, 33)
    ]
    other = Market.load(tmp_path, INSTRUMENTS, seed=8)
    assert [t.last for t in other.ticks(t0, t1)] != [t.last for t in whole]


def test_sample_ticks_merge_all_symbols_in_time_order() -> None:
    m = Market.load(SAMPLE, INSTRUMENTS, seed=1)
    assert len(m.con_ids()) == 26
    t0 = utc(2026, 10, 6, 14)
    whole = list(m.ticks(t0, t0 + timedelta(minutes=10)))
    assert len({t.con_id for t in whole}) == 26
    assert len(whole) == 26 * 10 * 48
    keys = [(t.time, m.con_ids().index(t.con_id)) for t in whole]
    assert keys == sorted(keys)
    split = [
        t
        for k in range(10)
        for t in m.ticks(t0 + timedelta(minutes=k), t0 + timedelta(minutes=k + 1))
    ]
    assert split == whole


# ---- the bridge ----------------------------------------------------------------------------------


@st.composite
def bars(draw: st.DrawFn) -> tuple[float, float, float, float, float]:
    low = draw(st.integers(1, 100_000))
    high = low + draw(st.integers(0, 5_000))
    o, c = draw(st.integers(low, high)), draw(st.integers(low, high))
    return o / 100, high / 100, low / 100, c / 100, float(draw(st.integers(0, 10**7)))


@settings(max_examples=200, deadline=None)
@given(
    st.lists(bars(), min_size=1, max_size=20),
    st.integers(1, 24),
    st.integers(0, 2**63),
    st.booleans(),
)
def test_bridge_hits_ohlc_exactly_and_stays_inside(
    rows: list[tuple[float, ...]], n_sub: int, seed: int, on_grid: bool
) -> None:
    o, h, lo, c, v = (np.array(col) for col in zip(*rows, strict=True))
    keys = bar_keys(seed, 265598, np.arange(len(rows), dtype=np.int64) * 60)
    p = bar_paths(o, h, lo, c, v, n_sub, keys, 0.01 if on_grid else None, 100.0)
    assert p.price.shape == (len(rows), 4 * n_sub)
    assert (p.price[:, 0] == o).all() and (p.price[:, -1] == c).all()
    assert (p.price.max(axis=1) == h).all() and (p.price.min(axis=1) == lo).all()
    assert (p.size.sum(axis=1) == v).all() and (p.size >= 0).all()
    if on_grid:
        assert np.allclose(np.round(p.price * 100), p.price * 100)


# ---- files ---------------------------------------------------------------------------------------


def _load_bad(tmp_path: Path, text: str, name: str = "AAPL.csv") -> str:
    (tmp_path / name).write_text(text)
    with pytest.raises(DataFileError) as err:
        Market.load(tmp_path, INSTRUMENTS, seed=1)
    assert str(tmp_path / name) in str(err.value)
    return str(err.value)


HEAD = "time,open,high,low,close,volume\n"
ROW1 = "2026-11-24T14:30:00Z,10,11,9,10.5,100\n"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        ("time,open,high,low,close\n" + ROW1, "missing column 'volume'"),
        (
            HEAD + ROW1 + "2026-11-24T14:31:00Z,10,abc,9,10.5,100\n",
            "row 2 (line 3), column 'high': not a number",
        ),
        (HEAD + ROW1 + "2026-11-24T14:31:00Z,10,11,9,,100\n", "row 2 (line 3), column 'close'"),
        (HEAD + "yesterday,10,11,9,10.5,100\n", "row 1 (line 2), column 'time'"),
        (HEAD + ROW1 + ROW1, "row 2 (line 3), column 'time': not after"),
        (HEAD + "2026-11-24T14:30:02Z,10,11,9,10.5,100\n", "5-second boundary"),
        (
            HEAD + ROW1 + "2026-11-24T14:31:00Z,10,10.2,9,10.5,100\n",
            "row 2 (line 3), column 'high': below",
        ),
        (
            HEAD + ROW1 + "2026-11-24T14:31:00Z,10,11,10.2,10.5,100\n",
            "row 2 (line 3), column 'low': above",
        ),
        (HEAD + ROW1 + "2026-11-24T14:31:00Z,10,11,9,10.5,-1\n", "column 'volume'"),
        (HEAD, "no rows"),
    ],
)
def test_bad_csv_names_file_row_and_column(tmp_path: Path, body: str, needle: str) -> None:
    assert needle in _load_bad(tmp_path, body)


def test_gzip_and_parquet_load_like_csv(tmp_path: Path) -> None:
    rows = crafted_rows()
    frame = pd.DataFrame(rows, columns=["time", "open", "high", "low", "close", "volume"])
    csv_dir, gz_dir, pq_dir = (tmp_path / d for d in ("csv", "gz", "pq"))
    for d in (csv_dir, gz_dir, pq_dir):
        d.mkdir()
    write_csv(csv_dir / "AAPL.csv", rows)
    with gzip.open(gz_dir / "AAPL.csv.gz", "wb") as f:
        f.write((csv_dir / "AAPL.csv").read_bytes())
    frame.to_parquet(pq_dir / "AAPL.parquet")
    results = [
        ohlcv(hist(Market.load(d, INSTRUMENTS, 1), NOW, "2 D", "1 min", False))
        for d in (csv_dir, gz_dir, pq_dir)
    ]
    assert results[0] == results[1] == results[2] and len(results[0]) == 10
    frame.loc[3, "volume"] = -5
    frame.to_parquet(pq_dir / "AAPL.parquet")
    with pytest.raises(DataFileError, match=r"AAPL.parquet: row 4, column 'volume'"):
        Market.load(pq_dir, INSTRUMENTS, 1)


def test_missing_data_directory_or_files(tmp_path: Path) -> None:
    with pytest.raises(DataFileError, match="not found"):
        Market.load(tmp_path / "nope", INSTRUMENTS, 1)
    with pytest.raises(DataFileError, match="no market data files"):
        Market.load(tmp_path, INSTRUMENTS, 1)


def test_dst_change_moves_the_regular_session_in_utc(tmp_path: Path) -> None:
    # Friday 2026-10-30 is EDT (RTH from 13:30 UTC), Monday 2026-11-02 EST (from 14:30 UTC).
    rows = [(utc(2026, 10, 30, 13, 29 + i), 10.0, 10.5, 9.5, 10.25, 10.0) for i in range(2)]
    rows += [
        (utc(2026, 11, 2, 13, 30) + timedelta(minutes=i), 20.0, 20.5, 19.5, 20.25, 20.0)
        for i in range(61)
    ]
    write_csv(tmp_path / "AAPL.csv", rows)
    m = Market.load(tmp_path, INSTRUMENTS, 1)
    now = utc(2026, 11, 2, 15)
    rth = hist(m, now, "2 D", "1 min", True)
    assert rth[0].date == utc(2026, 10, 30, 13, 30) and rth[1].date == utc(2026, 11, 2, 14, 30)
    assert ohlcv(hist(m, now, "2 D", "1 day", True)) == [
        (date(2026, 10, 30), 10.0, 10.5, 9.5, 10.25, 10.0),
        (date(2026, 11, 2), 20.0, 20.5, 19.5, 20.25, 20.0),  # only 14:30 is RTH
    ]
    hours = hist(m, now, "1 D", "1 hour", False)  # 08:00 and 09:00 EST buckets
    assert [b.date for b in hours] == [utc(2026, 11, 2, 13), utc(2026, 11, 2, 14)]


# ---- clock ---------------------------------------------------------------------------------------


def test_clock_manual_max_and_paced() -> None:
    start = utc(2026, 11, 24, 14, 30)
    manual = SimClock(start, None)
    assert manual.now() == start and not manual.paced
    manual.advance(timedelta(seconds=5))
    assert manual.now() == start + timedelta(seconds=5)
    with pytest.raises(ValueError):
        manual.advance(timedelta(seconds=-1))
    assert SimClock(start, 0).as_fast_as_possible
    wall = [100.0]
    paced = SimClock(start, 60, monotonic=lambda: wall[0])
    wall[0] += 2.0  # two wall seconds at 60x
    assert paced.now() == start + timedelta(minutes=2)
    paced.advance(timedelta(minutes=1))
    assert paced.now() == start + timedelta(minutes=3)
    wall[0] += 1.0  # the jump is kept; the pace goes on from it
    assert paced.now() == start + timedelta(minutes=4)
