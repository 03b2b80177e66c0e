"""Historical bars (sizes, durations, whatToShow, useRTH, formatDate, end times, errors),
keepUpToDate streaming, and the head timestamp: checked against the crafted RAMP/FLAT bars."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from gateway_helpers import DAY1, DAY2, flat, ramp, ramp_bar, settle
from ib_insync import IB, BarDataList

from bot.gateway.server import Gateway


def _close(a: float, b: float) -> bool:
    return abs(a - b) < 1e-9


async def _bars(
    ib: IB,
    end: object,
    duration: str,
    size: str,
    what: str = "TRADES",
    rth: bool = True,
    fmt: int = 1,
    contract: object = None,
) -> BarDataList:
    c = contract or ramp()
    await ib.qualifyContractsAsync(c)
    return await ib.reqHistoricalDataAsync(c, end, duration, size, what, rth, fmt)


async def test_one_minute_bars_of_the_previous_day(ib: IB) -> None:
    bars = await _bars(ib, "", "1 D", "1 min")
    assert len(bars) == 390
    first, last = bars[0], bars[-1]
    assert first.date == DAY1  # aware datetime (New York time), same instant
    assert str(first.date.tzinfo) == "US/Eastern" and first.date.hour == 9
    assert (first.open, first.high, first.low, first.close, first.volume) == (
        *ramp_bar(0)[:4],
        1000.0,
    )
    assert last.date == DAY1 + timedelta(minutes=389)
    assert last.close == ramp_bar(389)[3]


async def test_five_minute_and_hourly_aggregation(ib: IB) -> None:
    five = await _bars(ib, "", "1 D", "5 mins")
    assert len(five) == 78
    b = five[0]
    assert (b.open, b.close) == (ramp_bar(0)[0], ramp_bar(4)[3])
    assert _close(b.high, ramp_bar(4)[1]) and _close(b.low, ramp_bar(0)[2])
    assert b.volume == sum(ramp_bar(i)[4] for i in range(5))
    hourly = await _bars(ib, "", "1 D", "1 hour")
    # RTH hourly bars are dated 09:30 (cut by the session open), then 10:00 .. 15:00
    assert [h.date.strftime("%H:%M") for h in hourly] == [
        "09:30",
        "10:00",
        "11:00",
        "12:00",
        "13:00",
        "14:00",
        "15:00",
    ]
    assert hourly[0].volume == sum(ramp_bar(i)[4] for i in range(30))
    assert hourly[0].close == ramp_bar(29)[3]


async def test_daily_bars_and_format_date_2(gateway: Gateway, ib: IB) -> None:
    await gateway.advance(timedelta(minutes=10))
    daily = await _bars(ib, "", "2 D", "1 day")
    assert [d.date for d in daily] == [date(2024, 1, 4), date(2024, 1, 5)]
    assert daily[0].volume == sum(ramp_bar(i)[4] for i in range(390))
    assert daily[1].close == ramp_bar(9)[3]  # today so far: ten one-minute bars
    utc = await _bars(ib, "", "600 S", "1 min", fmt=2)
    assert [b.date for b in utc] == [DAY2 + timedelta(minutes=i) for i in range(10)]
    assert all(b.date.tzinfo == UTC for b in utc)


async def test_explicit_end_and_never_beyond_now(gateway: Gateway, ib: IB) -> None:
    end = DAY1 + timedelta(hours=1, minutes=30)  # 11:00 New York
    bars = await _bars(ib, end, "3600 S", "1 min")
    assert len(bars) == 60 and bars[0].open == ramp_bar(30)[0]
    assert list(await _bars(ib, "20240104 11:00:00 US/Eastern", "3600 S", "1 min")) == list(bars)
    await gateway.advance(timedelta(minutes=3, seconds=30))
    future = DAY2 + timedelta(hours=5)
    now_bars = await _bars(ib, future, "1 D", "1 min")
    assert [b.date for b in now_bars] == [DAY2 + timedelta(minutes=i) for i in range(4)]
    partial = now_bars[-1]  # 09:33 so far: half a bar
    assert partial.open == ramp_bar(3)[0] and partial.volume < ramp_bar(3)[4]


async def test_midpoint_bid_ask_and_all_hours(ib: IB) -> None:
    mid = await _bars(ib, "", "1 D", "30 mins", what="MIDPOINT", contract=flat())
    assert len(mid) == 13
    assert all(b.open == b.high == b.low == b.close == 100.005 for b in mid)
    assert all(b.volume == -1 for b in mid)
    bid = await _bars(ib, "", "1 D", "30 mins", what="BID", contract=flat())
    ask = await _bars(ib, "", "1 D", "30 mins", what="ASK", contract=flat())
    assert {b.close for b in bid} == {100.0} and {b.close for b in ask} == {100.01}
    all_hours = await _bars(ib, "", "1 D", "1 hour", rth=False)
    assert all_hours[0].date.strftime("%H:%M") == "09:00"  # no cut without useRTH


async def test_bad_requests_end_with_an_error_and_no_bars(ib: IB) -> None:
    errors: list[tuple[int, str]] = []
    ib.errorEvent += lambda req_id, code, text, contract: errors.append((code, text))
    assert list(await _bars(ib, "", "1 D", "7 mins")) == []
    assert list(await _bars(ib, "", "1 Q", "1 min")) == []
    assert list(await _bars(ib, "", "1 D", "1 min", what="OPTION_IMPLIED_VOLATILITY")) == []
    assert list(await _bars(ib, "garbage", "1 D", "1 min")) == []
    assert [code for code, _ in errors] == [321, 321, 321, 321]
    assert "bar size" in errors[0][1]
    # a window without data: IB's "HMDS query returned no data"
    assert list(await _bars(ib, DAY1 - timedelta(days=1), "3600 S", "1 min")) == []
    assert errors[-1][0] == 162 and "HMDS query returned no data" in errors[-1][1]


async def test_keep_up_to_date_updates_and_appends(gateway: Gateway, ib: IB) -> None:
    await gateway.advance(timedelta(minutes=2))
    c = ramp()
    await ib.qualifyContractsAsync(c)
    bars = await ib.reqHistoricalDataAsync(c, "", "300 S", "1 min", "TRADES", True, 1, True)
    assert [b.date for b in bars] == [DAY2, DAY2 + timedelta(minutes=1)]
    updates: list[bool] = []
    bars.updateEvent += lambda b, new_bar: updates.append(new_bar)
    await gateway.advance(timedelta(seconds=30))
    await settle(ib)
    assert updates == [True] and len(bars) == 3
    assert bars[-1].date == DAY2 + timedelta(minutes=2) and bars[-1].open == ramp_bar(2)[0]
    for _ in range(6):
        await gateway.advance(timedelta(seconds=5))
    await settle(ib)
    last = bars[-1]
    assert len(bars) == 3 and updates[1:] and not any(updates[1:])
    assert (last.open, last.high, last.low, last.close, last.volume) == ramp_bar(2)
    await gateway.advance(timedelta(seconds=60))
    await settle(ib)
    assert bars[-1].date == DAY2 + timedelta(minutes=3)
    ib.cancelHistoricalData(bars)
    await settle(ib)
    n = len(bars)
    await gateway.advance(timedelta(minutes=2))
    await settle(ib)
    assert len(bars) == n


async def test_head_timestamp(ib: IB) -> None:
    c = ramp()
    await ib.qualifyContractsAsync(c)
    head = await ib.reqHeadTimeStampAsync(c, "TRADES", True, 2)
    assert head == DAY1 and head.tzinfo == UTC
    local = await ib.reqHeadTimeStampAsync(c, "TRADES", True, 1)
    assert local == DAY1 and str(local.tzinfo) == "US/Eastern"


async def test_history_of_a_contract_without_data(ib: IB) -> None:
    from gateway_helpers import eurusd

    errors: list[int] = []
    ib.errorEvent += lambda req_id, code, text, contract: errors.append(code)
    assert list(await _bars(ib, "", "1 D", "1 min", contract=eurusd())) == []
    assert errors == [162]


def test_day_constants() -> None:
    assert timedelta(days=1) == DAY2 - DAY1
    assert datetime(2024, 1, 5, 14, 30, tzinfo=UTC) == DAY2
