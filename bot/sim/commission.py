"""IB fixed-rate commissions, as charged by the simulated broker.

Stocks (US, fixed pricing): USD 0.005 per share, at least USD 1.00 per order, at most 1% of
the trade value. Forex (IDEALPRO): 0.2 basis points of the trade value, at least USD 2.00.
https://www.interactivebrokers.com/en/pricing/commissions-stocks.php

The minimum and maximum apply to the whole order, as at IB: an order filled in several
executions pays, on each execution, the increase of the order's total fee.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class CommissionConfig:
    """Rates; every amount is in the account currency (USD)."""

    per_share: float = 0.005
    min_per_order: float = 1.00
    max_pct: float = 0.01
    fx_bps: float = 0.2
    fx_min: float = 2.00


def order_fee(cfg: CommissionConfig, sec_type: str, quantity: float, value: float) -> float:
    """Total commission of an order that has traded ``quantity`` for ``value`` so far."""
    if quantity <= 0:
        return 0.0
    if sec_type == "CASH":
        return max(value * cfg.fx_bps / 10_000.0, cfg.fx_min)
    fee = max(quantity * cfg.per_share, cfg.min_per_order)
    if cfg.max_pct > 0 and value > 0:
        fee = min(fee, value * cfg.max_pct)
    return fee


def execution_fee(
    cfg: CommissionConfig,
    sec_type: str,
    *,
    prior_qty: float,
    prior_value: float,
    qty: float,
    price: float,
) -> float:
    """Commission of one execution: the growth of the order's total fee (>= 0, cents rounded)."""
    before = order_fee(cfg, sec_type, prior_qty, prior_value)
    after = order_fee(cfg, sec_type, prior_qty + qty, prior_value + qty * price)
    return round(max(after - before, 0.0), 6)
