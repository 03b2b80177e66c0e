"""Backtest figures from an equity curve and a list of round-trip P&Ls (pure functions).

``equity`` is the account value at the start (index 0) and at the close of each period after
it (a trading day for the daily curve of ``ibbot backtest``), so n periods give n + 1 points and
n returns ``r_i = e_i / e_(i-1) - 1``. ``periods_per_year`` annualizes: 252 for daily points,
else by bar size (``periods_per_year(bar_seconds)``: 252 x the 6.5-hour regular session / bar).
Where a figure is undefined (no returns, zero volatility, no losing trade, no drawdown) it is
None, never a division error: kpis.json writes null, the report "n/a". ``rf`` is the annual
risk-free rate (0 unless ``--rf``).

Standard style (the default):

- total return: e_n / e_0 - 1
- CAGR: (e_n / e_0) ** (N / n) - 1, N periods a year
- volatility: sample standard deviation of the returns (ddof 1) x sqrt(N)
- Sharpe: mean(r - rf / N) / std(r, ddof 1) x sqrt(N)
- Sortino: mean(r - rf / N) / sqrt(mean(min(r - rf / N, 0)^2)) x sqrt(N) (downside deviation
  against 0, over all n returns)

Course style (``--kpi-style course``, the formulas of the IB API course's KPI lessons):

- CAGR: (e_n / e_0) ** (N / (n + 1)) - 1: the years are counted over the number of prices
- Sharpe: (CAGR - rf) / volatility
- Sortino: (CAGR - rf) / (std(negative returns only, ddof 1) x sqrt(N))

Both styles:

- max drawdown: the largest (peak - e_j) / peak over j, peak the highest point before j; with
  the index of that peak and of the trough
- max drawdown duration: the most periods from a peak to the first point back at or above it
  (or to the last point if the curve never recovered)
- Calmar: CAGR / max drawdown
- win rate: winning trades (net P&L > 0) / trades; profit factor: gross winning P&L /
  |gross losing P&L|; average win and average loss (a negative number) per trade
- max consecutive losses: the longest run of losing trades in exit order (a trade of exactly 0
  ends a run)
- mean return per trade: the mean of each round trip's net P&L / its entry value
  (entry price x quantity)
- turnover: the value traded (|quantity| x price of every fill) / the mean equity
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal

from bot.model.bar_sizes import DAY

TRADING_DAYS = 252
SESSION_SECONDS = 23_400  # 09:30-16:00, the regular session intraday bars fall in
STYLES = ("standard", "course")
Style = Literal["standard", "course"]


def periods_per_year(bar_seconds: int) -> float:
    """Bars a year: 252 daily bars, 52 weekly, 12 monthly, else 252 sessions of 6.5 hours."""
    if bar_seconds >= 28 * DAY:
        return 12.0
    if bar_seconds >= 7 * DAY:
        return 52.0
    if bar_seconds >= DAY:
        return float(TRADING_DAYS)
    return TRADING_DAYS * SESSION_SECONDS / bar_seconds


def daily_returns(equity: Sequence[float]) -> list[float]:
    return [b / a - 1.0 for a, b in itertools.pairwise(equity) if a != 0]


def total_return(equity: Sequence[float]) -> float | None:
    if len(equity) < 2 or equity[0] <= 0:
        return None
    return equity[-1] / equity[0] - 1.0


def cagr(
    equity: Sequence[float], periods_per_year: float = TRADING_DAYS, style: Style = "standard"
) -> float | None:
    """Compound annual growth over ``len(equity) - 1`` periods (the course: ``len(equity)``)."""
    periods = len(equity) - (0 if style == "course" else 1)
    if len(equity) < 2 or equity[0] <= 0 or equity[-1] < 0:
        return None
    return float((equity[-1] / equity[0]) ** (periods_per_year / periods) - 1.0)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _std(xs: Sequence[float]) -> float | None:
    """Sample standard deviation (ddof 1); None for fewer than two values."""
    if len(xs) < 2:
        return None
    m = _mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def volatility(returns: Sequence[float], periods_per_year: float = TRADING_DAYS) -> float | None:
    s = _std(returns)
    return None if s is None else s * math.sqrt(periods_per_year)


def sharpe(
    returns: Sequence[float], periods_per_year: float = TRADING_DAYS, rf: float = 0.0
) -> float | None:
    s = _std(returns)
    if s is None or s < 1e-15:
        return None
    return (_mean(returns) - rf / periods_per_year) / s * math.sqrt(periods_per_year)


def sortino(
    returns: Sequence[float], periods_per_year: float = TRADING_DAYS, rf: float = 0.0
) -> float | None:
    if not returns:
        return None
    excess = [r - rf / periods_per_year for r in returns]
    down = math.sqrt(_mean([min(r, 0.0) ** 2 for r in excess]))
    if down < 1e-15:
        return None
    return _mean(excess) / down * math.sqrt(periods_per_year)


def course_sharpe(
    growth: float | None, returns: Sequence[float], periods_per_year: float, rf: float
) -> float | None:
    vol = volatility(returns, periods_per_year)
    if growth is None or vol is None or vol < 1e-15:
        return None
    return (growth - rf) / vol


def course_sortino(
    growth: float | None, returns: Sequence[float], periods_per_year: float, rf: float
) -> float | None:
    return course_sharpe(growth, [r for r in returns if r < 0], periods_per_year, rf)


@dataclass(frozen=True, slots=True)
class Drawdown:
    depth: float  # (peak - trough) / peak, 0 if the curve never fell
    peak: int  # index of the peak before the deepest trough
    trough: int  # index of the deepest trough


def max_drawdown(equity: Sequence[float]) -> Drawdown:
    best = Drawdown(0.0, 0, 0)
    peak_i = 0
    for i, e in enumerate(equity):
        if e > equity[peak_i]:
            peak_i = i
        peak = equity[peak_i]
        if peak > 0 and (dd := (peak - e) / peak) > best.depth:
            best = Drawdown(dd, peak_i, i)
    return best


@dataclass(frozen=True, slots=True)
class Underwater:
    periods: int  # 0 if the curve never fell below a peak
    start: int  # index of the peak
    end: int  # index of the recovery, or the last point if it never recovered
    recovered: bool


def max_drawdown_duration(equity: Sequence[float]) -> Underwater:
    best = Underwater(0, 0, 0, True)
    peak_i, below = 0, False
    for i, e in enumerate(equity):
        if e < equity[peak_i]:
            below = True
            continue
        if below and i - peak_i > best.periods:
            best = Underwater(i - peak_i, peak_i, i, True)
        peak_i, below = i, False
    last = len(equity) - 1
    if equity and equity[last] < equity[peak_i] and last - peak_i > best.periods:
        best = Underwater(last - peak_i, peak_i, last, False)
    return best


def calmar(cagr_value: float | None, drawdown: float) -> float | None:
    if cagr_value is None or drawdown <= 0:
        return None
    return cagr_value / drawdown


def max_consecutive_losses(pnls: Sequence[float]) -> int:
    best = run = 0
    for p in pnls:
        run = run + 1 if p < 0 else 0
        best = max(best, run)
    return best


def turnover(traded_value: float, equity: Sequence[float]) -> float | None:
    if not equity or _mean(equity) <= 0:
        return None
    return traded_value / _mean(equity)


@dataclass(frozen=True, slots=True)
class TradeStats:
    trades: int
    wins: int
    losses: int
    win_rate: float | None
    profit_factor: float | None
    avg_win: float | None
    avg_loss: float | None
    max_consecutive_losses: int = 0
    mean_trade_return: float | None = None


def trade_stats(pnls: Sequence[float], returns: Sequence[float] = ()) -> TradeStats:
    """From each round trip's net P&L (in exit order) and, if given, its return on entry
    value; a trade of exactly 0 is neither a win nor a loss."""
    wins = [p for p in pnls if p > 0]
    losses = [p for p in pnls if p < 0]
    gross_loss = -sum(losses)
    return TradeStats(
        trades=len(pnls),
        wins=len(wins),
        losses=len(losses),
        win_rate=len(wins) / len(pnls) if pnls else None,
        profit_factor=sum(wins) / gross_loss if gross_loss > 0 else None,
        avg_win=_mean(wins) if wins else None,
        avg_loss=_mean(losses) if losses else None,
        max_consecutive_losses=max_consecutive_losses(pnls),
        mean_trade_return=_mean(returns) if returns else None,
    )


def trade_figures(
    pnls: Sequence[float], returns: Sequence[float], traded_value: float, equity: Sequence[float]
) -> dict[str, object]:
    """The trade rows of kpis.json, also given per symbol."""
    ts = trade_stats(pnls, returns)
    return {
        "trades": ts.trades,
        "net_pnl": sum(pnls),
        "win_rate": ts.win_rate,
        "profit_factor": ts.profit_factor,
        "avg_win": ts.avg_win,
        "avg_loss": ts.avg_loss,
        "max_consecutive_losses": ts.max_consecutive_losses,
        "mean_trade_return": ts.mean_trade_return,
        "traded_value": traded_value,
        "turnover": turnover(traded_value, equity),
    }


@dataclass(frozen=True, slots=True)
class Settings:
    """How to annualize and which formulas: ``--kpi-style`` and ``--rf``."""

    style: Style = "standard"
    rf: float = 0.0
    periods_per_year: float = TRADING_DAYS


def summarize(
    equity: Sequence[float],
    dates: Sequence[str],
    pnls: Sequence[float],
    *,
    days_exposed: int,
    commissions: float,
    trade_returns: Sequence[float] = (),
    traded_value: float = 0.0,
    settings: Settings = Settings(),
) -> dict[str, object]:
    """Every figure for one equity curve (``dates[i]`` labels ``equity[i]``) as a JSON-able
    dict."""
    n = settings.periods_per_year
    rets = daily_returns(equity)
    growth = cagr(equity, n, settings.style)
    dd = max_drawdown(equity)
    under = max_drawdown_duration(equity)
    days = len(equity) - 1
    if settings.style == "course":
        ratio_sharpe = course_sharpe(growth, rets, n, settings.rf)
        ratio_sortino = course_sortino(growth, rets, n, settings.rf)
    else:
        ratio_sharpe, ratio_sortino = sharpe(rets, n, settings.rf), sortino(rets, n, settings.rf)
    trades = trade_figures(pnls, trade_returns, traded_value, equity)
    return {
        "start_equity": equity[0],
        "end_equity": equity[-1],
        "pnl": equity[-1] - equity[0],
        "total_return": total_return(equity),
        "cagr": growth,
        "volatility": volatility(rets, n),
        "sharpe": ratio_sharpe,
        "sortino": ratio_sortino,
        "max_drawdown": dd.depth,
        "max_drawdown_peak": dates[dd.peak] if dd.depth > 0 else None,
        "max_drawdown_trough": dates[dd.trough] if dd.depth > 0 else None,
        "max_drawdown_duration": under.periods,
        "max_drawdown_duration_start": dates[under.start] if under.periods else None,
        "max_drawdown_duration_end": dates[under.end] if under.periods else None,
        "max_drawdown_recovered": under.recovered,
        "calmar": calmar(growth, dd.depth),
        **{k: v for k, v in trades.items() if k != "net_pnl"},
        "exposure": days_exposed / days if days > 0 else None,
        "commissions": commissions,
        "days": days,
        "kpi_style": settings.style,
        "rf": settings.rf,
        "periods_per_year": n,
    }


def monthly_returns(dates: Sequence[str], equity: Sequence[float]) -> dict[str, float]:
    """Return of each calendar month (``"YYYY-MM"``): its last point over the last point
    before it (the start for the first month). ``dates`` are ISO times."""
    ends: dict[str, float] = {}
    for label, e in zip(dates[1:], equity[1:], strict=True):
        ends[label[:7]] = e  # the last point of each month wins
    out: dict[str, float] = {}
    prev = equity[0] if equity else 0.0
    for month, e in ends.items():
        if prev > 0:
            out[month] = e / prev - 1.0
        prev = e
    return out
