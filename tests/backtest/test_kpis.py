"""KPI functions against values computed by hand on tiny equity curves."""

from __future__ import annotations

import math

import pytest

from bot.backtest import kpis

CURVE = [100.0, 110.0, 99.0, 121.0]  # 3 trading days after the start


def test_returns_and_total_return() -> None:
    # 110/100 - 1, 99/110 - 1, 121/99 - 1
    assert kpis.daily_returns(CURVE) == pytest.approx([0.1, -0.1, 2 / 9])
    assert kpis.total_return(CURVE) == pytest.approx(0.21)


def test_cagr_over_three_trading_days() -> None:
    # (121/100) ** (252 / 3) - 1 = 1.21 ** 84 - 1
    assert kpis.cagr(CURVE) == pytest.approx(1.21**84 - 1)
    # 252 days that double: exactly 100% a year
    assert kpis.cagr([100.0] + [100.0] * 251 + [200.0]) == pytest.approx(1.0)


def test_volatility_sharpe_sortino_by_hand() -> None:
    r = [0.1, -0.1, 2 / 9]
    mean = 2 / 27  # (0.1 - 0.1 + 6/27) / 3
    # deviations from the mean, in 27ths: 0.7, -4.7, 4.0 -> sum of squares 38.58 / 27**2
    std = math.sqrt(38.58 / 27**2 / 2)  # ddof 1: divide by n - 1 = 2
    assert std == pytest.approx(0.162668, abs=1e-6)
    assert kpis.volatility(r) == pytest.approx(std * math.sqrt(252))
    assert kpis.sharpe(r) == pytest.approx(mean / std * math.sqrt(252))
    assert kpis.sharpe(r) == pytest.approx(7.2287, abs=1e-4)
    downside = math.sqrt((0 + 0.1**2 + 0) / 3)  # only -0.1 is below 0, over all 3 returns
    assert kpis.sortino(r) == pytest.approx(mean / downside * math.sqrt(252))
    assert kpis.sortino(r) == pytest.approx(20.3670, abs=1e-4)  # (2/27) x sqrt(300 x 252)


def test_max_drawdown_and_calmar() -> None:
    dd = kpis.max_drawdown(CURVE)
    assert dd.depth == pytest.approx((110 - 99) / 110)  # 10%
    assert (dd.peak, dd.trough) == (1, 2)
    assert kpis.calmar(kpis.cagr(CURVE), dd.depth) == pytest.approx((1.21**84 - 1) / 0.1)
    # the deepest fall, not the first: 100 -> 90 (10%) then 120 -> 96 (20%)
    dd2 = kpis.max_drawdown([100, 90, 120, 96, 130])
    assert (dd2.depth, dd2.peak, dd2.trough) == (pytest.approx(0.2), 2, 3)


def test_flat_curve_reports_none_instead_of_crashing() -> None:
    flat = [100.0, 100.0, 100.0]
    r = kpis.daily_returns(flat)
    assert r == [0.0, 0.0]
    assert kpis.volatility(r) == 0.0
    assert kpis.sharpe(r) is None and kpis.sortino(r) is None
    dd = kpis.max_drawdown(flat)
    assert dd.depth == 0.0
    assert kpis.calmar(kpis.cagr(flat), dd.depth) is None
    s = kpis.summarize(flat, ["d0", "d1", "d2"], [], days_exposed=0, commissions=0.0)
    assert s["total_return"] == 0.0 and s["cagr"] == 0.0
    assert s["sharpe"] is None and s["sortino"] is None and s["calmar"] is None
    assert s["max_drawdown_peak"] is None
    assert s["trades"] == 0 and s["win_rate"] is None and s["profit_factor"] is None
    assert s["exposure"] == 0.0


def test_one_day_has_no_volatility() -> None:
    r = kpis.daily_returns([100.0, 101.0])
    assert kpis.volatility(r) is None and kpis.sharpe(r) is None
    assert kpis.sortino(r) is None  # no downside
    assert kpis.sortino(kpis.daily_returns([100.0, 99.0])) == pytest.approx(-math.sqrt(252))


def test_trade_stats_by_hand() -> None:
    ts = kpis.trade_stats([50.0, -20.0, 30.0, 0.0, -10.0])
    assert (ts.trades, ts.wins, ts.losses) == (5, 2, 2)
    assert ts.win_rate == pytest.approx(0.4)  # 2 of 5; a 0 trade is not a win
    assert ts.profit_factor == pytest.approx(80 / 30)
    assert ts.avg_win == pytest.approx(40.0) and ts.avg_loss == pytest.approx(-15.0)
    only_wins = kpis.trade_stats([5.0])
    assert only_wins.profit_factor is None and only_wins.avg_loss is None
    none = kpis.trade_stats([])
    assert none.trades == 0 and none.win_rate is None


def test_summary_labels_the_drawdown() -> None:
    s = kpis.summarize(CURVE, ["start", "d1", "d2", "d3"], [10.0], days_exposed=2,
                       commissions=3.5)  # fmt: skip
    assert s["max_drawdown_peak"] == "d1" and s["max_drawdown_trough"] == "d2"
    assert s["exposure"] == pytest.approx(2 / 3) and s["days"] == 3
    assert s["pnl"] == 21.0 and s["commissions"] == 3.5


def test_annualization_by_bar_size() -> None:
    assert kpis.periods_per_year(86400) == 252  # daily bars
    assert kpis.periods_per_year(7 * 86400) == 52 and kpis.periods_per_year(30 * 86400) == 12
    assert kpis.periods_per_year(3600) == pytest.approx(252 * 6.5)  # 6.5 hourly bars a session
    assert kpis.periods_per_year(900) == 252 * 26  # 26 quarter-hours in 09:30-16:00
    r = [0.1, -0.1, 2 / 9]
    per_hour = kpis.periods_per_year(3600)
    assert kpis.volatility(r, per_hour) == pytest.approx(kpis.volatility(r) * math.sqrt(6.5))


def test_risk_free_rate_lowers_the_standard_sharpe_and_sortino() -> None:
    r = [0.1, -0.1, 2 / 9]
    std = math.sqrt(38.58 / 27**2 / 2)
    excess = 2 / 27 - 0.0252 / 252  # 2.52% a year = 0.0001 a day
    assert kpis.sharpe(r, rf=0.0252) == pytest.approx(excess / std * math.sqrt(252))
    down = math.sqrt(((-0.1 - 0.0001) ** 2) / 3)
    assert kpis.sortino(r, rf=0.0252) == pytest.approx(excess / down * math.sqrt(252))


def test_course_style_by_hand() -> None:
    # CAGR over the number of prices: 4 prices -> (121/100) ** (252 / 4) - 1 = 1.21 ** 63 - 1
    growth = kpis.cagr(CURVE, style="course")
    assert growth == pytest.approx(1.21**63 - 1)
    r = kpis.daily_returns(CURVE)
    vol = math.sqrt(38.58 / 27**2 / 2) * math.sqrt(252)
    assert kpis.course_sharpe(growth, r, 252, 0.05) == pytest.approx((1.21**63 - 1 - 0.05) / vol)
    # Sortino: the std (ddof 1) of the negative returns only; one negative return has none
    assert kpis.course_sortino(growth, r, 252, 0.0) is None
    falls = [0.1, -0.1, -0.3, 0.2]  # negatives -0.1, -0.3: mean -0.2, std sqrt(0.02)
    neg_vol = math.sqrt(0.02) * math.sqrt(252)
    assert kpis.course_sortino(0.5, falls, 252, 0.02) == pytest.approx(0.48 / neg_vol)
    s = kpis.summarize(CURVE, ["a", "b", "c", "d"], [], days_exposed=0, commissions=0.0,
                       settings=kpis.Settings("course", 0.05))  # fmt: skip
    assert s["cagr"] == pytest.approx(growth)
    assert s["sharpe"] == pytest.approx((growth - 0.05) / vol)
    assert s["kpi_style"] == "course" and s["rf"] == 0.05
    assert s["volatility"] == pytest.approx(vol)  # the same in both styles


def test_max_drawdown_duration_by_hand() -> None:
    # under water from the peak at 0 to the recovery at 3 (3 periods), then 3 -> 5 (2 periods)
    u = kpis.max_drawdown_duration([100, 90, 95, 100, 80, 120])
    assert (u.periods, u.start, u.end, u.recovered) == (3, 0, 3, True)
    # never recovers: from the peak at 1 to the last point, 4 periods
    u = kpis.max_drawdown_duration([100, 110, 100, 105, 90, 109])
    assert (u.periods, u.start, u.end, u.recovered) == (4, 1, 5, False)
    assert kpis.max_drawdown_duration([100, 101, 102]).periods == 0
    s = kpis.summarize([100, 110, 100, 105, 90, 109], list("abcdef"), [], days_exposed=0,
                       commissions=0.0)  # fmt: skip
    assert s["max_drawdown_duration"] == 4 and s["max_drawdown_duration_start"] == "b"
    assert s["max_drawdown_duration_end"] == "f" and s["max_drawdown_recovered"] is False


def test_consecutive_losses_mean_trade_return_and_turnover() -> None:
    # losses in exit order: -1, -2 | win | -1, -1, -3 | zero ends a run | -5
    assert kpis.max_consecutive_losses([-1, -2, 5, -1, -1, -3, 0, -5]) == 3
    assert kpis.max_consecutive_losses([]) == 0 and kpis.max_consecutive_losses([1, 2]) == 0
    ts = kpis.trade_stats([10.0, -5.0], [0.02, -0.01])
    assert ts.mean_trade_return == pytest.approx(0.005) and ts.max_consecutive_losses == 1
    # 50,000 traded against a mean equity of (100 + 110 + 99 + 121) / 4 = 107.5
    assert kpis.turnover(50_000, CURVE) == pytest.approx(50_000 / 107.5)
    f = kpis.trade_figures([10.0, -5.0], [0.02, -0.01], 430.0, CURVE)
    assert f["net_pnl"] == 5.0 and f["turnover"] == pytest.approx(4.0) and f["trades"] == 2


def test_monthly_returns_chain_month_ends() -> None:
    dates = ["2026-01-05T14:30", "2026-01-30T21:00", "2026-02-02T21:00", "2026-02-27T21:00",
             "2026-03-02T21:00"]  # fmt: skip
    got = kpis.monthly_returns(dates, [100.0, 110.0, 99.0, 121.0, 127.05])
    assert got == pytest.approx({"2026-01": 0.1, "2026-02": 0.1, "2026-03": 0.05})
