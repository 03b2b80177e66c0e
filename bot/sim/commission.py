"""IB commissions, as charged by the simulated broker: one of three schedules.

- ``ib_fixed`` (the default): US stocks USD 0.005 per share, at least USD 1.00 per order, at
  most 1% of the trade value.
  https://www.interactivebrokers.com/en/pricing/commissions-stocks.php
- ``ib_tiered``: US stocks per share by the account's share volume this calendar month (in the
  broker's day time zone, US/Eastern by default): up to 300,000 shares USD 0.0035, to 3,000,000
  0.0020, to 20,000,000 0.0015, to 100,000,000 0.0010, beyond 0.0005; at least USD 0.35 per
  order, at most 1% of the trade value. An execution's shares all pay the rate of the tier the
  month's volume is in before it (IB: "at the time of the trade"); every stock execution of
  the account counts towards the volume, buys and sells alike.
- ``none``: no commission at all (for comparisons with other backtesters).

Only IB's own commission is modelled: the exchange, clearing (NSCC/DTC), regulatory (SEC
transaction fee, FINRA TAF) and pass-through fees that IB adds on top of tiered commissions
are not, because they depend on the venue, the liquidity taken or added and rates that change
every year. Forex (IDEALPRO) pays 0.2 basis points of the trade value, at least USD 2.00,
under both IB schedules (the first tier of IB's forex schedule).

The minimum and maximum apply to the whole order, as at IB: an order filled in several
executions pays, on each execution, the increase of the order's total fee.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import Literal, get_args

Schedule = Literal["ib_fixed", "ib_tiered", "none"]
SCHEDULES: tuple[str, ...] = get_args(Schedule)

#: ib_tiered, US stocks: (monthly share volume up to, USD per share).
US_STOCK_TIERS: tuple[tuple[float, float], ...] = (
    (300_000, 0.0035),
    (3_000_000, 0.0020),
    (20_000_000, 0.0015),
    (100_000_000, 0.0010),
    (math.inf, 0.0005),
)


@dataclass(frozen=True, slots=True)
class CommissionConfig:
    """The schedule and its rates; every amount is in the account currency (USD)."""

    schedule: Schedule = "ib_fixed"
    per_share: float = 0.005  # ib_fixed
    min_per_order: float = 1.00  # ib_fixed
    tiers: tuple[tuple[float, float], ...] = US_STOCK_TIERS  # ib_tiered
    tiered_min_per_order: float = 0.35  # ib_tiered
    max_pct: float = 0.01
    fx_bps: float = 0.2
    fx_min: float = 2.00

    def __post_init__(self) -> None:
        if self.schedule not in SCHEDULES:
            choices = ", ".join(SCHEDULES)
            raise ValueError(f"unknown commission schedule {self.schedule!r} (one of {choices})")

    def stock_rate(self, month_shares: float) -> float:
        """USD per share of a stock execution, after ``month_shares`` shares this month."""
        if self.schedule == "ib_tiered":
            return next(rate for bound, rate in self.tiers if month_shares < bound)
        return self.per_share


def order_fee(
    cfg: CommissionConfig, sec_type: str, quantity: float, value: float, share_fees: float
) -> float:
    """Total commission of an order that has traded ``quantity`` for ``value`` so far;
    ``share_fees`` is its per-share commission summed over those executions."""
    if quantity <= 0 or cfg.schedule == "none":
        return 0.0
    if sec_type == "CASH":
        return max(value * cfg.fx_bps / 10_000.0, cfg.fx_min)
    minimum = cfg.tiered_min_per_order if cfg.schedule == "ib_tiered" else cfg.min_per_order
    fee = max(share_fees, minimum)
    if cfg.max_pct > 0 and value > 0:
        fee = min(fee, value * cfg.max_pct)
    return fee


@dataclass(frozen=True, slots=True)
class Charge:
    """One execution's commission, and its order's per-share commission after it."""

    fee: float
    share_fees: float


def execution_charge(
    cfg: CommissionConfig,
    sec_type: str,
    *,
    prior_qty: float,
    prior_value: float,
    prior_share_fees: float,
    qty: float,
    price: float,
    month_shares: float = 0.0,
) -> Charge:
    """Commission of one execution: the growth of the order's total fee (>= 0, rounded to
    1e-6). ``month_shares``: the account's stock volume this month before this execution."""
    share_fees = prior_share_fees + qty * cfg.stock_rate(month_shares)
    before = order_fee(cfg, sec_type, prior_qty, prior_value, prior_share_fees)
    after = order_fee(cfg, sec_type, prior_qty + qty, prior_value + qty * price, share_fees)
    return Charge(round(max(after - before, 0.0), 6), share_fees)


class MonthlyVolume:
    """Each account's stock share volume in the current calendar month in ``tz``: the tier
    of the ib_tiered schedule."""

    def __init__(self, tz: tzinfo) -> None:
        self._tz = tz
        self._volume: dict[str, tuple[tuple[int, int], float]] = {}

    def record(self, account: str, when: datetime, shares: float) -> float:
        """Add an execution of ``shares`` at ``when``; returns the month's volume before it."""
        local = when.astimezone(self._tz)
        month = (local.year, local.month)
        seen, before = self._volume.get(account, (month, 0.0))
        if seen != month:
            before = 0.0
        self._volume[account] = (month, before + shares)
        return before
