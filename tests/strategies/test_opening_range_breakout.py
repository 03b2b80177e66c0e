from __future__ import annotations

import math
from datetime import date, timedelta

import pytest
from strategy_helpers import NAN, FakeContext, Sim, ny

from bot.model.events import Bar, KillSwitch, OrderSpec, OrderType, PlaceBracket, Side, Tick
from strategies.opening_range_breakout import OpeningRangeBreakout, OpeningRangeBreakoutParams

D1, D2, D3, D4 = date(2024, 1, 2), date(2024, 1, 3), date(2024, 1, 4), date(2024, 1, 5)
FIVE = 300


def make(ctx: FakeContext, **params: object) -> OpeningRangeBreakout:
    return OpeningRangeBreakout(ctx, OpeningRangeBreakoutParams.model_validate(params))


def b5(
    day: date, hh: int, mm: int, close: float, *, high=None, low=None, volume=1000.0, sym="AAPL"
) -> Bar:
    hi = close if high is None else high
    lo = close if low is None else low
    return Bar(sym, ny(day, hh, mm), close, hi, lo, close, volume, FIVE)


def quiet_day(s: OpeningRangeBreakout, day: date, volume: float = 1000.0, sym="AAPL") -> None:
    """A regular session at 100.00 up to the cut-off (74 bars) that never trades."""
    for i in range(74):
        t = ny(day, 9, 30) + timedelta(seconds=FIVE * i)
        assert s.on_bar(Bar(sym, t, 100, 100, 100, 100, volume, FIVE)) == []


def opening_range(s: OpeningRangeBreakout, day: date, sym="AAPL") -> None:
    """09:30-09:45: high 101.00, low 99.00 (made by highs/lows, not closes)."""
    assert s.on_bar(b5(day, 9, 30, 100, high=101, low=99.5, volume=9000, sym=sym)) == []
    assert s.on_bar(b5(day, 9, 35, 100.5, high=100.8, low=99, volume=9000, sym=sym)) == []
    assert s.on_bar(b5(day, 9, 40, 100.2, volume=9000, sym=sym)) == []


@pytest.fixture
def ready(ctx: FakeContext) -> OpeningRangeBreakout:
    """One previous day of 1000-share bars, today's range 99-101 done."""
    s = make(ctx)
    quiet_day(s, D1)
    opening_range(s, D2)
    return s


def bracket(side: Side, qty: int, tp: float, sl: float, why: str) -> PlaceBracket:
    exit_ = side.opposite
    return PlaceBracket(
        "AAPL",
        entry=OrderSpec(side, qty),
        take_profit=OrderSpec(exit_, qty, OrderType.LIMIT, limit_price=tp),
        stop_loss=OrderSpec(exit_, qty, OrderType.STOP, stop_price=sl),
        tag="orb",
        reason=f"{why} opening range on volume",
    )


def test_breakout_up_on_volume_is_a_bracket_buy(ready: OpeningRangeBreakout) -> None:
    intents = ready.on_bar(b5(D2, 9, 45, 102.0, volume=2001))
    assert intents == [bracket(Side.BUY, 9, 107.1, 99.0, "above")]


def test_breakout_down_on_volume_is_a_bracket_sell(ready: OpeningRangeBreakout) -> None:
    intents = ready.on_bar(b5(D2, 10, 5, 98.0, volume=5000))
    assert intents == [bracket(Side.SELL, 10, 93.1, 101.0, "below")]


def test_bracket_prices_round_to_the_tick() -> None:
    ctx = FakeContext(min_tick=0.05)
    s = make(ctx, take_profit_pct=3.3)
    quiet_day(s, D1)
    opening_range(s, D2)
    [b] = s.on_bar(b5(D2, 9, 45, 101.37, volume=2500))
    assert b.take_profit.limit_price == 104.7  # 101.37 * 1.033 = 104.715...
    assert b.stop_loss.stop_price == 99.0


@pytest.mark.parametrize("volume", [1000, 1999, 2000])
def test_no_entry_without_volume_above_twice_the_average(
    ready: OpeningRangeBreakout, volume: float
) -> None:
    assert ready.on_bar(b5(D2, 9, 45, 102.0, volume=volume)) == []


def test_no_entry_inside_the_range(ready: OpeningRangeBreakout) -> None:
    assert ready.on_bar(b5(D2, 9, 45, 101.0, high=101.5, volume=5000)) == []
    assert ready.on_bar(b5(D2, 9, 50, 99.0, low=98.5, volume=5000)) == []


def test_no_entry_during_the_range_itself(ctx: FakeContext) -> None:
    s = make(ctx)
    quiet_day(s, D1)
    assert s.on_bar(b5(D2, 9, 30, 100, volume=9000)) == []
    assert s.on_bar(b5(D2, 9, 35, 120, volume=9000)) == []  # part of the range, not a break


def test_no_entry_without_previous_days(ctx: FakeContext) -> None:
    s = make(ctx)
    opening_range(s, D2)
    assert s.on_bar(b5(D2, 9, 45, 102.0, volume=1e9)) == []


def test_no_entry_when_the_range_was_not_seen_from_the_open(ctx: FakeContext) -> None:
    s = make(ctx)
    quiet_day(s, D1)
    s.on_bar(b5(D2, 9, 40, 100.0))  # started late: the range would be one bar only
    assert s.on_bar(b5(D2, 9, 45, 102.0, volume=5000)) == []


def test_one_entry_per_symbol_per_day(ctx: FakeContext, ready: OpeningRangeBreakout) -> None:
    assert ready.on_bar(b5(D2, 9, 45, 102.0, volume=5000)) != []
    ctx.positions["AAPL"] = 0  # stopped out
    assert ready.on_bar(b5(D2, 10, 0, 98.0, volume=5000)) == []
    assert ready.on_bar(b5(D2, 11, 0, 103.0, volume=5000)) == []
    quiet_rest(ready, D2)
    opening_range(ready, D3)
    assert ready.on_bar(b5(D3, 9, 45, 98.0, volume=5000)) != []


def quiet_rest(s: OpeningRangeBreakout, day: date) -> None:
    for i in range(12):  # a few quiet bars later in the day, before the cut-off
        s.on_bar(b5(day, 14, 0, 100.0) if i == 0 else b5(day, 14, 5 * i, 100.0))


def test_no_entry_while_holding_a_position(ctx: FakeContext, ready: OpeningRangeBreakout) -> None:
    ctx.positions["AAPL"] = -5
    assert ready.on_bar(b5(D2, 9, 45, 102.0, volume=5000)) == []


def test_other_symbols_trade_independently() -> None:
    ctx = FakeContext(("AAPL", "MSFT"))
    s = make(ctx)
    for sym in ("AAPL", "MSFT"):
        quiet_day(s, D1, sym=sym)
        opening_range(s, D2, sym=sym)
    assert s.on_bar(b5(D2, 9, 45, 102.0, volume=5000)) != []
    [msft] = s.on_bar(b5(D2, 9, 45, 102.0, volume=5000, sym="MSFT"))
    assert isinstance(msft, PlaceBracket) and msft.symbol == "MSFT"


def test_average_is_over_previous_days_only(ctx: FakeContext) -> None:
    s = make(ctx)
    quiet_day(s, D1, volume=1000)
    opening_range(s, D2)  # today's 9000-share bars must not raise the bar to beat
    assert s.on_bar(b5(D2, 9, 45, 102.0, volume=2100)) != []


def test_volume_stats_keep_only_lookback_days(ctx: FakeContext) -> None:
    s = make(ctx, lookback_days=2)
    for day, vol in ((D1, 10_000), (D2, 100), (D3, 100)):
        quiet_day(s, day, volume=vol)
    assert len(s._history["AAPL"]) == 2  # bounded memory
    opening_range(s, D4)
    assert s.on_bar(b5(D4, 9, 45, 102.0, volume=250)) != []  # avg 100, not 3400


def test_bars_outside_the_session_are_ignored(ctx: FakeContext) -> None:
    s = make(ctx)
    quiet_day(s, D1)
    assert s.on_bar(b5(D2, 9, 0, 150.0, volume=1e6)) == []  # pre-market
    opening_range(s, D2)
    assert s.on_bar(b5(D2, 9, 45, 102.0, volume=2500)) != []


# ---- the daily kill: the risk stage's limits -----------------------------------------------


def limits(**params: object) -> dict[str, object]:
    return dict(OpeningRangeBreakout.risk_limits(OpeningRangeBreakoutParams.model_validate(params)))


def test_the_daily_kill_params_are_the_strategys_risk_limits() -> None:
    assert limits() == {
        "daily_profit_target": 1000.0, "daily_loss_limit": 500.0, "flatten_on_limit": True,
        "halt_at": "15:45", "pnl_source": "own"}  # fmt: skip
    assert limits(max_daily_profit=None, max_daily_loss=None, cutoff=None, pnl_source="ib") == {
        "daily_profit_target": None, "daily_loss_limit": None, "flatten_on_limit": False,
        "halt_at": None, "pnl_source": "ib"}  # fmt: skip
    assert limits(cutoff="11:00")["halt_at"] == "11:00"


def test_the_strategy_itself_never_kills(ctx: FakeContext, ready: OpeningRangeBreakout) -> None:
    ctx.pnl, ctx.positions["AAPL"] = -1e9, 9  # the risk stage's business now
    assert ready.on_bar(b5(D2, 15, 40, 100.0)) == []


def test_warmup_bars_build_the_stats_and_range_without_trading(ctx: FakeContext) -> None:
    s = make(ctx)
    for i in range(74):
        t = ny(D1, 9, 30) + timedelta(seconds=FIVE * i)
        s.on_warmup_bar(Bar("AAPL", t, 100, 100, 100, 100, 1000, FIVE))
    s.on_warmup_bar(b5(D2, 9, 30, 100, high=101, low=99))  # live from 09:35 on
    assert s.on_bar(b5(D2, 9, 35, 100.0)) == []
    assert s.on_bar(b5(D2, 9, 40, 100.0)) == []
    assert s.on_bar(b5(D2, 9, 45, 101.5, volume=2001)) == [
        bracket(Side.BUY, 9, 106.58, 99.0, "above")
    ]


def test_trades_end_to_end_in_the_simulator() -> None:
    ctx = FakeContext()
    sim = Sim(OpeningRangeBreakout, OpeningRangeBreakoutParams(), ctx)
    bars: list[Bar] = []
    for d, day in enumerate((D1, D2, D3, D4)):
        for i in range(78):  # a U-shaped volume day; day 3 rallies after the range
            t = ny(day, 9, 30) + timedelta(seconds=FIVE * i)
            px = 100 + math.sin(i / 5) * 0.3 + (0.2 * (i - 2) if d == 2 and i >= 3 else 0)
            vol = 1000 + 40 * (i - 39) ** 2 / 39 + (3000 if d == 2 and i == 3 else 0)
            bars.append(Bar("AAPL", t, px, px + 0.1, px - 0.1, px, vol, FIVE))
    sim.run(bars)
    brackets = [i for i in sim.intents if isinstance(i, PlaceBracket)]
    assert len(brackets) == 1 and brackets[0].entry.action is Side.BUY
    assert [f.tag for f in sim.fills][:2] == ["orb", "orb.tp"]
    assert not [i for i in sim.intents if isinstance(i, KillSwitch)]  # the risk stage's job


# ---- the course's rules: trigger on the last trade, kill on IB's P&L ---------------------------
#
# Written out from the course's opening-range-breakout code:
#   after the first 15 minutes, on every trade: if its price is above the range's high and the
#   volume of the 5-minute bar in progress exceeds 2 x the average 5-minute volume of the
#   previous days, buy at market with a take-profit 5% above that price and a stop at the range's
#   low (mirrored below the low); once per symbol per day;
#   kill switch: when the sum of IB's daily P&L (pnlSingle) over the tickers reaches +profit or
#   -loss, cancel everything and close the positions (the risk stage's: tests/daemon and
#   test_orb_daily_kill_parity.py).


def trade(hh: int, mm: int, ss: int, price: float, size: float, day: date = D2) -> Tick:
    return Tick("AAPL", ny(day, hh, mm) + timedelta(seconds=ss), NAN, NAN, price, last_size=size)


@pytest.fixture
def last(ctx: FakeContext) -> OpeningRangeBreakout:
    """trigger: last, one previous day of 1000-share bars, today's range 99-101 done."""
    s = make(ctx, trigger="last")
    quiet_day(s, D1)
    opening_range(s, D2)
    return s


def test_trigger_last_asks_for_every_trade(ctx: FakeContext) -> None:
    assert (make(ctx).wants_ticks(), make(ctx).tick_type()) == (False, None)
    s = make(ctx, trigger="last")
    assert (s.wants_ticks(), s.tick_type()) == (True, "AllLast")


def test_trigger_last_fires_intrabar_once_the_forming_bar_has_the_volume(
    last: OpeningRangeBreakout,
) -> None:
    # 09:45 bar in progress: 1500 shares so far is under 2 x 1000; 2100 is over.
    assert last.on_tick(trade(9, 46, 0, 102.0, 1500)) == []
    buy = bracket(Side.BUY, 9, 107.1, 99.0, "above")
    assert last.on_tick(trade(9, 47, 10, 102.0, 600)) == [buy]
    assert last.on_tick(trade(9, 48, 0, 103.0, 5000)) == []  # once per day


def test_trigger_last_sells_below_the_range_at_the_trade_price(last: OpeningRangeBreakout) -> None:
    for mm in (45, 50, 55):  # quiet bars inside the range
        assert last.on_bar(b5(D2, 9, mm, 100.0)) == []
    sell = bracket(Side.SELL, 10, 93.1, 101.0, "below")
    assert last.on_tick(trade(10, 1, 0, 98.0, 2500)) == [sell]


def test_trigger_last_volume_is_the_forming_bars_only(last: OpeningRangeBreakout) -> None:
    assert last.on_tick(trade(9, 49, 50, 100.0, 1500)) == []  # 09:45 bar
    assert last.on_tick(trade(9, 50, 5, 102.0, 600)) == []  # 09:50 bar: 600 only


def test_trigger_last_needs_a_price_outside_the_range(last: OpeningRangeBreakout) -> None:
    assert last.on_tick(trade(9, 46, 0, 101.0, 5000)) == []  # at the high is not above it


def test_trigger_last_waits_for_the_whole_range(ctx: FakeContext) -> None:
    s = make(ctx, trigger="last")
    quiet_day(s, D1)
    s.on_bar(b5(D2, 9, 30, 100, high=101, low=99.5, volume=9000))
    s.on_bar(b5(D2, 9, 35, 100.5, high=100.8, low=99, volume=9000))
    # 09:44: the range's last bar is still forming, so its high is not known yet.
    assert s.on_tick(trade(9, 44, 0, 102.0, 5000)) == []


def test_trigger_last_ignores_bar_closes(last: OpeningRangeBreakout) -> None:
    assert last.on_bar(b5(D2, 9, 45, 102.0, volume=5000)) == []


def test_trigger_close_ignores_ticks(ready: OpeningRangeBreakout) -> None:
    assert ready.on_tick(trade(9, 46, 0, 102.0, 5000)) == []


def test_trigger_last_trades_only_while_the_sessions_bars_flow(last: OpeningRangeBreakout) -> None:
    # The last bar seen ended 09:45: by 09:55 without a bar, the session is over (extended-hours
    # trades) or not this one; a trade then is not the course's breakout.
    assert last.on_tick(trade(9, 55, 0, 102.0, 5000)) == []
    assert last.on_tick(trade(9, 30, 1, 102.0, 5000, day=D3)) == []  # tomorrow, before its bars
    assert last.on_bar(b5(D2, 9, 45, 100.0)) == []
    assert last.on_tick(trade(9, 55, 0, 102.0, 5000)) != []  # bars flow again
