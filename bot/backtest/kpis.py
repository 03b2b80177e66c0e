"""Backtest figures from a daily equity curve and a list of round-trip P&Ls (pure functions).

``equity`` is the account value at the start (index 0) and at each trading day's close after
it, so n days give n + 1 points and n daily returns ``r_i = e_i / e_(i-1) - 1``. A year is 252
trading days. Where a figure is undefined (no returns, zero volatility, no losing trade, no
drawdown) it is None, never a division error: kpis.json writes null, the report "n/a".

- total return: e_n / e_0 - 1
- CAGR: (e_n / e_0) ** (252 / n) - 1
- volatility: sample standard deviation of the daily returns (ddof 1) x sqrt(252)
- Sharpe (risk-free rate 0): mean(r) / std(r, ddof 1) x sqrt(252)
- Sortino: mean(r) / sqrt(mean(min(r, 0)^2)) x sqrt(252) (downside deviation against 0, over
  all n returns)
- max drawdown: the largest (peak - e_j) / peak over j, peak the highest point before j; with
  the index of that peak and of the trough
- Calmar: CAGR / max drawdown
- win rate: winning trades (net P&L > 0) / trades; profit factor: gross winning P&L /
  |gross losing P&L|; average win and average loss (a negative number) per trade
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass

TRADING_DAYS = 252


def daily_returns(equity: Sequence[float]) -> list[float]:
    return [b / a - 1.0 for a, b in itertools.pairwise(equity) if a != 0]


def total_return(equity: Sequence[float]) -> float | None:
    if len(equity) < 2 or equity[0] <= 0:
        return None
    return equity[-1] / equity[0] - 1.0


def cagr(equity: Sequence[float], periods_per_year: int = TRADING_DAYS) -> float | None:
    """Compound annual growth over ``len(equity) - 1`` trading days."""
    days = len(equity) - 1
    if days < 1 or equity[0] <= 0 or equity[-1] < 0:
        return None
    return float((equity[-1] / equity[0]) ** (periods_per_year / days) - 1.0)


def _mean(xs: Sequence[float]) -> float:
    return sum(xs) / len(xs)


def _std(xs: Sequence[float]) -> float | None:
    """Sample standard deviation (ddof 1); None for fewer than two values."""
    if len(xs) < 2:
        return None
    m = _mean(xs)
    return math.sqrt(sum((x - m) ** 2 for x in xs) / (len(xs) - 1))


def volatility(returns: Sequence[float], periods_per_year: int = TRADING_DAYS) -> float | None:
    s = _std(returns)
    return None if s is None else s * math.sqrt(periods_per_year)


def sharpe(returns: Sequence[float], periods_per_year: int = TRADING_DAYS) -> float | None:
    s = _std(returns)
    if s is None or s < 1e-15:
        return None
    return _mean(returns) / s * math.sqrt(periods_per_year)


def sortino(returns: Sequence[float], periods_per_year: int = TRADING_DAYS) -> float | None:
    if not returns:
        return None
    down = math.sqrt(_mean([min(r, 0.0) ** 2 for r in returns]))
    if down < 1e-15:
        return None
    return _mean(returns) / down * math.sqrt(periods_per_year)


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


def calmar(cagr_value: float | None, drawdown: float) -> float | None:
    if cagr_value is None or drawdown <= 0:
        return None
    return cagr_value / drawdown


@dataclass(frozen=True, slots=True)
class TradeStats:
    trades: int
    wins: int
    losses: int
    win_rate: float | None
    profit_factor: float | None
    avg_win: float | None
    avg_loss: float | None


def trade_stats(pnls: Sequence[float]) -> TradeStats:
    """From each round trip's net P&L; a trade of exactly 0 is neither a win nor a loss."""
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
    )


def summarize(
    equity: Sequence[float],
    dates: Sequence[str],
    pnls: Sequence[float],
    *,
    days_exposed: int,
    commissions: float,
) -> dict[str, object]:
    """Every figure for one equity curve (``dates[i]`` labels ``equity[i]``) as a JSON-able
    dict."""
    rets = daily_returns(equity)
    growth = cagr(equity)
    dd = max_drawdown(equity)
    ts = trade_stats(pnls)
    days = len(equity) - 1
    return {
        "start_equity": equity[0],
        "end_equity": equity[-1],
        "pnl": equity[-1] - equity[0],
        "total_return": total_return(equity),
        "cagr": growth,
        "volatility": volatility(rets),
        "sharpe": sharpe(rets),
        "sortino": sortino(rets),
        "max_drawdown": dd.depth,
        "max_drawdown_peak": dates[dd.peak] if dd.depth > 0 else None,
        "max_drawdown_trough": dates[dd.trough] if dd.depth > 0 else None,
        "calmar": calmar(growth, dd.depth),
        "trades": ts.trades,
        "win_rate": ts.win_rate,
        "profit_factor": ts.profit_factor,
        "avg_win": ts.avg_win,
        "avg_loss": ts.avg_loss,
        "exposure": days_exposed / days if days > 0 else None,
        "commissions": commissions,
        "days": days,
    }
