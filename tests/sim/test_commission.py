"""The three commission schedules (bot/sim/commission.py), with hand-computed numbers."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from broker_helpers import AAPL, ACCT, EURUSD, broker, contract, order

from bot.sim.broker_events import ExecutionEvent
from bot.sim.commission import CommissionConfig, MonthlyVolume, execution_charge
from bot.sim.types import SimTick

FIXED, TIERED, NONE = (CommissionConfig(schedule=s) for s in ("ib_fixed", "ib_tiered", "none"))


def fee(cfg: CommissionConfig, qty: float, price: float, month: float = 0.0, sec="STK") -> float:
    """Commission of a whole order filled in one execution."""
    return execution_charge(
        cfg, sec, prior_qty=0, prior_value=0, prior_share_fees=0, qty=qty, price=price,
        month_shares=month,
    ).fee  # fmt: skip


@pytest.mark.parametrize(
    ("qty", "price", "month", "expected"),
    [
        (100, 50.0, 0, 0.35),  # 100 x 0.0035 = 0.35, the minimum exactly
        (50, 50.0, 0, 0.35),  # 0.175 -> the 0.35 minimum
        (1000, 50.0, 0, 3.50),  # 1000 x 0.0035
        (1000, 50.0, 299_999, 3.50),  # the month's volume before the execution sets the tier
        (1000, 50.0, 300_000, 2.00),  # 300,000 done: 0.0020 from the next share
        (1000, 50.0, 3_000_000, 1.50),
        (1000, 50.0, 20_000_000, 1.00),
        (1000, 50.0, 100_000_000, 0.50),
        (500, 50.0, 100_000_000, 0.35),  # 0.25 -> the minimum
        (1000, 0.20, 0, 2.00),  # 3.50 capped at 1% of 200.00
        (10, 0.50, 0, 0.05),  # even the minimum is capped at 1% of 5.00
    ],
)
def test_ib_tiered_stocks(qty: float, price: float, month: float, expected: float) -> None:
    assert fee(TIERED, qty, price, month) == pytest.approx(expected, abs=1e-9)


def test_ib_fixed_ignores_the_months_volume() -> None:
    assert fee(FIXED, 1000, 50.0, month=0) == fee(FIXED, 1000, 50.0, month=10**9) == 5.00
    assert fee(FIXED, 100, 50.0) == 1.00  # 0.50 -> the 1.00 minimum


def test_none_charges_nothing() -> None:
    assert fee(NONE, 1000, 50.0) == 0.0
    assert fee(NONE, 100_000, 1.08, sec="CASH") == 0.0


def test_forex_is_the_same_under_both_ib_schedules() -> None:
    assert fee(TIERED, 100_000, 1.08, sec="CASH") == fee(FIXED, 100_000, 1.08, sec="CASH") == 2.16


def test_tiered_minimum_is_per_order_and_the_rate_can_change_inside_an_order() -> None:
    first = execution_charge(
        TIERED, "STK", prior_qty=0, prior_value=0, prior_share_fees=0, qty=60, price=50.0
    )
    assert first.fee == 0.35 and first.share_fees == pytest.approx(0.21)  # 60 x 0.0035 < min
    second = execution_charge(
        TIERED, "STK", prior_qty=60, prior_value=3000, prior_share_fees=first.share_fees,
        qty=60, price=50.0,
    )  # fmt: skip
    assert second.fee == pytest.approx(0.07)  # order total 0.42 less the 0.35 already paid
    third = execution_charge(
        TIERED, "STK", prior_qty=120, prior_value=6000, prior_share_fees=second.share_fees,
        qty=1000, price=50.0, month_shares=300_500,
    )  # fmt: skip
    assert third.fee == pytest.approx(2.00)  # these 1000 at tier 2's 0.0020


def test_unknown_schedule_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown commission schedule 'ib_flat'"):
        CommissionConfig(schedule="ib_flat")  # type: ignore[arg-type]


def test_monthly_volume_is_per_account_and_restarts_with_the_exchange_month() -> None:
    vol = MonthlyVolume(ZoneInfo("US/Eastern"))
    march_end = datetime(2024, 4, 1, 3, 30, tzinfo=UTC)  # 23:30 New York, still 31 March
    assert vol.record("A", march_end - timedelta(days=1), 1000) == 0
    assert vol.record("A", march_end, 500) == 1000
    assert vol.record("B", march_end, 700) == 0
    assert vol.record("A", march_end + timedelta(hours=1), 200) == 0  # 00:30, 1 April
    assert vol.record("A", march_end + timedelta(hours=2), 1) == 200


def _fill(b, oid: int, action: str, qty: float, when: datetime, last: float = 1.00) -> float:
    b.place_order(ACCT, 1, contract(), order(oid, action, qty), when - timedelta(seconds=30))
    events = b.on_tick(SimTick(when, AAPL, last, 10**7, last - 0.01, last + 0.01, 500, 500))
    [execution] = [e for e in events if isinstance(e, ExecutionEvent)]
    return execution.commission_report.commission


def test_broker_moves_an_account_up_the_tiers_and_back_at_the_new_month() -> None:
    b = broker(cash=10_000_000.0, commission=TIERED)
    day = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
    assert _fill(b, 1, "BUY", 200_000, day) == 700.00  # 200,000 x 0.0035 (1% of 202,000 more)
    assert _fill(b, 2, "SELL", 200_000, day + timedelta(minutes=1)) == 700.00  # 200k done: tier 1
    assert _fill(b, 3, "BUY", 1000, day + timedelta(minutes=2)) == 2.00  # 400k done: 0.0020
    april = datetime(2024, 4, 1, 15, 0, tzinfo=UTC)
    assert _fill(b, 4, "BUY", 1000, april) == 3.50  # a new month starts at tier 1
    assert b.account(ACCT).commissions == pytest.approx(700 + 700 + 2 + 3.5)


def test_forex_fills_do_not_count_towards_the_stock_tiers() -> None:
    b = broker(cash=10_000_000.0, commission=TIERED)
    when = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)
    b.place_order(ACCT, 1, contract(EURUSD), order(1, "BUY", 500_000), when - timedelta(seconds=30))
    b.on_tick(SimTick(when, EURUSD, 1.08, 10**7, 1.0799, 1.0801, 500, 500))
    assert _fill(b, 2, "BUY", 1000, when + timedelta(minutes=1)) == 3.50
