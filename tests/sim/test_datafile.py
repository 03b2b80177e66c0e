"""Source files at any bar size, daily files that give the date alone, and bad files.

Dates: US daylight saving ends on Sunday 2026-11-01, so New York's 09:30 open is 13:30 UTC on
Friday 2026-10-30 and 14:30 UTC on Monday 2026-11-02.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from bot.sim.datafile import DataFileError, read_bars
from bot.sim.instruments import DEFAULT_INSTRUMENTS_FILE, Instruments
from bot.sim.market import Market

INSTRUMENTS = Instruments.load(DEFAULT_INSTRUMENTS_FILE)
AAPL = INSTRUMENTS.by_symbol("AAPL")
EURUSD = INSTRUMENTS.by_symbol("EUR")

YAHOO = """Date,Open,High,Low,Close,Adj Close,Volume
2026-10-29,100.00,101.50,99.50,101.00,100.10,1000000
2026-10-30,101.00,102.00,100.25,101.75,100.85,1100000
2026-11-02,101.75,103.00,101.00,102.50,101.60,1200000
2026-11-03,102.50,102.75,100.00,100.50,99.61,1300000
"""
DAILY = [  # (date, open, high, low, close, volume) of YAHOO
    (date(2026, 10, 29), 100.0, 101.5, 99.5, 101.0, 1_000_000.0),
    (date(2026, 10, 30), 101.0, 102.0, 100.25, 101.75, 1_100_000.0),
    (date(2026, 11, 2), 101.75, 103.0, 101.0, 102.5, 1_200_000.0),
    (date(2026, 11, 3), 102.5, 102.75, 100.0, 100.5, 1_300_000.0),
]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def write(tmp_path: Path, text: str, name: str = "AAPL.csv") -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_a_date_only_daily_file_starts_each_bar_at_that_days_open(tmp_path: Path) -> None:
    sb = read_bars(write(tmp_path, YAHOO), AAPL)
    assert sb.daily and sb.bar_seconds == 86_400
    opens = [datetime.fromtimestamp(int(t), UTC) for t in sb.time]
    assert opens == [utc(2026, 10, 29, 13, 30), utc(2026, 10, 30, 13, 30),
                     utc(2026, 11, 2, 14, 30), utc(2026, 11, 3, 14, 30)]  # fmt: skip
    assert sb.close.tolist() == [101.0, 101.75, 102.5, 100.5]  # Close, not Adj Close


@pytest.mark.parametrize(
    "text",
    [
        # backtrader's CSV (IB-style dates, an OpenInterest column)
        "Date,Open,High,Low,Close,Volume,OpenInterest\n"
        "20261030,101,102,100.25,101.75,1100000,0\n20261102,101.75,103,101,102.5,1200000,0\n",
        # lower case, midnight timestamps (pandas' to_csv of a date index)
        "datetime,open,high,low,close,volume\n2026-10-30 00:00:00,101,102,100.25,101.75,1100000\n"
        "2026-11-02 00:00:00,101.75,103,101,102.5,1200000\n",
        # New York times of day
        "TIME,OPEN,HIGH,LOW,CLOSE,VOLUME\n2026-10-30T16:00:00-04:00,101,102,100.25,101.75,1100000\n"
        "2026-11-02T16:00:00-05:00,101.75,103,101,102.5,1200000\n",
    ],
)
def test_other_daily_spellings_give_the_same_bars(tmp_path: Path, text: str) -> None:
    sb = read_bars(write(tmp_path, text), AAPL)
    assert sb.daily and sb.time.tolist() == [
        int(utc(2026, 10, 30, 13, 30).timestamp()),
        int(utc(2026, 11, 2, 14, 30).timestamp()),
    ]


def test_one_date_is_a_daily_bar_too(tmp_path: Path) -> None:
    sb = read_bars(write(tmp_path, "Date,Open,High,Low,Close,Volume\n2026-10-30,1,2,1,2,5\n"), AAPL)
    assert sb.daily and sb.bar_seconds == 86_400


def test_forex_daily_bar_opens_the_evening_before(tmp_path: Path) -> None:
    text = "Date,Open,High,Low,Close,Volume\n2026-10-30,1.1,1.2,1.0,1.15,0\n"
    sb = read_bars(write(tmp_path, text, "EUR.USD.csv"), EURUSD)
    assert sb.time.tolist() == [int(utc(2026, 10, 29, 21).timestamp())]  # 17:00 New York (EDT)


def test_market_serves_daily_bars_and_ticks_over_each_session(tmp_path: Path) -> None:
    write(tmp_path, YAHOO)
    m = Market.load(tmp_path, INSTRUMENTS, seed=3)
    assert m.bar_seconds(AAPL.con_id) == 86_400
    now = utc(2026, 11, 4)
    for rth in (True, False):
        bars = m.history.historical_bars(AAPL.con_id, now, "1 W", "1 day", "TRADES", rth, now)
        got = [(b.date, b.open, b.high, b.low, b.close, b.volume) for b in bars]
        assert got == DAILY
    for day, session in ((1, utc(2026, 10, 30, 13, 30)), (2, utc(2026, 11, 2, 14, 30))):
        _, o, h, lo, c, v = DAILY[day]
        end = session + timedelta(hours=6, minutes=30)
        ticks = [t for t in m.ticks(session - timedelta(hours=1), end + timedelta(hours=1))
                 if session < t.time <= end]  # fmt: skip
        assert len(ticks) == 4 * 6.5 * 720  # 4 prints per 5 s over the 6.5-hour session
        assert ticks[0].time == session + timedelta(seconds=1.25) and ticks[-1].time == end
        assert (ticks[0].last, ticks[-1].last) == (o, c)
        assert max(t.last for t in ticks) == h and min(t.last for t in ticks) == lo
        assert sum(t.last_size for t in ticks) == v
    # nothing between sessions: the next tick after Friday's close is Monday's first
    after = next(iter(m.ticks(utc(2026, 10, 30, 20), utc(2026, 11, 3))))
    assert after.time == utc(2026, 11, 2, 14, 30) + timedelta(seconds=1.25)
    # in progress: Monday at 12:00 New York, the day's bar so far
    noon = utc(2026, 11, 2, 17)
    [*_, today] = m.history.historical_bars(AAPL.con_id, noon, "2 D", "1 day", "TRADES", True, noon)
    assert today.date == date(2026, 11, 2) and today.open == 101.75
    assert lo_hi_within(today, DAILY[2]) and today.volume < DAILY[2][5]
    hourly = m.history.historical_bars(AAPL.con_id, noon, "1 D", "1 hour", "TRADES", True, noon)
    assert [b.date for b in hourly] == [utc(2026, 11, 2, 14, 30), utc(2026, 11, 2, 15),
                                        utc(2026, 11, 2, 16)]  # fmt: skip


def lo_hi_within(bar: object, row: tuple[object, ...]) -> bool:
    return row[3] <= bar.low <= bar.high <= row[2]  # type: ignore[attr-defined,operator]


@pytest.mark.parametrize("minutes", [1, 5, 15, 60])
def test_intraday_files_at_any_bar_size(tmp_path: Path, minutes: int) -> None:
    start = utc(2026, 11, 2, 15)  # 10:00 New York: hourly bars on the exchange's clock
    n = 360 // minutes
    rows = ["time,open,high,low,close,volume"]
    for i in range(n):
        o = 50 + i * 0.25
        t = start + timedelta(minutes=minutes * i)
        rows.append(f"{t:%Y-%m-%dT%H:%M:%SZ},{o},{o + 0.5},{o - 0.5},{o + 0.25},{100 * (i + 1)}")
    write(tmp_path, "\n".join(rows) + "\n")
    sb = read_bars(tmp_path / "AAPL.csv", AAPL)
    assert (sb.bar_seconds, sb.daily) == (60 * minutes, False)
    m = Market.load(tmp_path, INSTRUMENTS, seed=1)
    now = utc(2026, 11, 3)
    size = {1: "1 min", 5: "5 mins", 15: "15 mins", 60: "1 hour"}[minutes]
    bars = m.history.historical_bars(AAPL.con_id, now, "1 D", size, "TRADES", True, now)
    assert [b.close for b in bars] == sb.close.tolist()
    [day] = m.history.historical_bars(AAPL.con_id, now, "1 D", "1 day", "TRADES", True, now)
    assert (day.open, day.high, day.low, day.close) == (
        50.0, sb.high.max(), 49.5, sb.close[-1],
    )  # fmt: skip
    assert day.volume == sb.volume.sum()
    ticks = list(m.ticks(start, start + timedelta(minutes=minutes)))
    assert len(ticks) == 4 * 12 * minutes and ticks[-1].last == sb.close[0]


def test_date_and_time_of_day_in_two_columns(tmp_path: Path) -> None:
    text = "Date,Time,Open,High,Low,Close,Volume\n2026-11-02,15:00,1,2,1,2,5\n"
    text += "2026-11-02,15:15:00,1,2,1,2,5\n"
    sb = read_bars(write(tmp_path, text), AAPL)
    assert sb.bar_seconds == 900 and sb.time[0] == utc(2026, 11, 2, 15).timestamp()


def test_parquet_with_a_date_index(tmp_path: Path) -> None:
    frame = pd.read_csv(write(tmp_path, YAHOO), parse_dates=["Date"]).set_index("Date")
    frame.to_parquet(tmp_path / "AAPL.parquet")
    sb = read_bars(tmp_path / "AAPL.parquet", AAPL)
    assert sb.daily and np.array_equal(sb.time, read_bars(tmp_path / "AAPL.csv", AAPL).time)


HEAD = "Date,Open,High,Low,Close,Volume\n"


@pytest.mark.parametrize(
    ("body", "needle"),
    [
        (HEAD + "2026-10-30,1,2,1,2,5\n2026-10-29,1,2,1,2,5\n",
         "row 2 (line 3), column 'time': not after the previous row's time"),
        (HEAD + "2026-10-30,1,2,1,2,5\n2026-11-02,-1,2,1,2,5\n",
         "row 2 (line 3), column 'open': price must be > 0 (-1.0)"),
        (HEAD + "2026-10-30,1,2,1,2,5\n2026-11-02,1.5,1,2,1.5,5\n",
         "row 2 (line 3), column 'high': below the bar's low (1.0)"),
        (HEAD + "2026-10-30,1,2,1,2,5\n2026-10-31,1,2,1,2,5\n",
         "row 2 (line 3), column 'time': 2026-10-31 (Saturday) is not a trading day of AAPL"),
        ("Date,Open,High,Low,Adj Close,Volume\n2026-10-30,1,2,1,2,5\n",
         "missing column 'close' (close / c / last; columns: date, open, high, low, adj close,"),
        (HEAD + "2026-10-30,1,2,1,2,5\n"
         "2026-10-31T03:00:00Z,1,2,1,2,5\n",  # 23:00 New York on the 30th
         "row 2 (line 3), column 'time': same exchange date as the previous row"),
    ],
)  # fmt: skip
def test_bad_files_name_file_line_and_column(tmp_path: Path, body: str, needle: str) -> None:
    path = write(tmp_path, body)
    with pytest.raises(DataFileError) as err:
        read_bars(path, AAPL)
    assert str(err.value).startswith(str(path)) and needle in str(err.value)
