"""SimBroker accounting: commissions, average cost, realized/unrealized/daily PnL, values."""

from __future__ import annotations

from datetime import timedelta

import pytest
from broker_helpers import AAPL, ACCT, EURUSD, OPEN, at, broker, contract, order, tick
from ib_insync import ExecutionFilter

from bot.sim.commission import CommissionConfig, execution_charge
from bot.sim.types import SimTick

UNSET = 1.7976931348623157e308


def trade(b, oid: int, action: str, qty: float, last: float, minute: float, con_id=AAPL):
    b.place_order(ACCT, 1, contract(con_id), order(oid, action, qty), at(minute - 0.5))
    return b.on_tick(tick(last, minute, con_id=con_id))


def identity(b) -> None:
    acct = b.account(ACCT)
    nlv = acct.cash + sum(p.qty * b.mark(c) for c, p in acct.positions.items())
    assert acct.net_liquidation() == pytest.approx(nlv)
    assert nlv == pytest.approx(acct.initial_cash + acct.realized() + acct.unrealized())
    assert b.account(ACCT).values()["NetLiquidation"][0] == pytest.approx(nlv, abs=0.006)


@pytest.mark.parametrize(
    ("qty", "price", "fee"),
    [(100, 100.0, 1.00), (1000, 100.0, 5.00), (1000, 0.30, 3.00), (10, 0.05, 0.005)],
)
def test_stock_commission_min_and_max(qty: float, price: float, fee: float) -> None:
    cfg = CommissionConfig()
    got = execution_charge(
        cfg, "STK", prior_qty=0, prior_value=0, prior_share_fees=0, qty=qty, price=price
    ).fee
    assert got == pytest.approx(fee)


def test_fx_commission_bps_with_minimum() -> None:
    cfg = CommissionConfig()
    fee = execution_charge(
        cfg, "CASH", prior_qty=0, prior_value=0, prior_share_fees=0, qty=100_000, price=1.08
    ).fee
    assert fee == pytest.approx(2.16)  # 0.2 bp of 108,000 USD
    fee = execution_charge(
        cfg, "CASH", prior_qty=0, prior_value=0, prior_share_fees=0, qty=10_000, price=1.08
    ).fee
    assert fee == 2.0


def test_round_trip_avg_cost_includes_commission_and_realized_is_ib_style() -> None:
    b = broker()
    ev = trade(b, 1, "BUY", 100, 100.0, 1)  # fills at ask 100.01, commission 1.00
    assert ev[0].commission_report.realizedPNL == UNSET  # opening trade
    (pos,) = b.account(ACCT).position_rows()
    assert pos.avg_cost == pytest.approx(100.02)  # (100 x 100.01 + 1) / 100
    identity(b)
    ev = trade(b, 2, "SELL", 100, 101.0, 2)  # fills at bid 100.99, commission 1.00
    # (100.99 - 100.02) x 100 - 1.00 = 96.00
    assert ev[0].commission_report.realizedPNL == pytest.approx(96.0)
    acct = b.account(ACCT)
    assert acct.cash == pytest.approx(100_000 - (10_001 + 1) + (10_099 - 1))
    assert b.account(ACCT).pnl().realized == pytest.approx(96.0)
    identity(b)


def test_short_then_flip_long() -> None:
    b = broker()
    trade(b, 1, "SELL", 100, 50.0, 1)  # 49.99, fee 1 -> avg cost 49.98 (net proceeds)
    assert b.account(ACCT).position_rows()[0].avg_cost == pytest.approx(49.98)
    trade(b, 2, "BUY", 150, 48.0, 2)  # 48.01, fee 1.00 (150 x 0.005 = 0.75 -> min 1)
    # closes 100: (49.98 - 48.01) x 100 - 1 x 100/150 = 196.333...
    assert b.account(ACCT).pnl().realized == pytest.approx(197.0 - 2 / 3)
    (pos,) = b.account(ACCT).position_rows()
    assert pos.position == 50
    assert pos.avg_cost == pytest.approx(48.01 + (1 / 3) / 50)
    identity(b)


def test_account_values_and_buying_power() -> None:
    b = broker(cash=100_000)
    trade(b, 1, "BUY", 100, 100.0, 1)
    b.on_tick(tick(110.0, 2))
    values = b.account(ACCT).values()
    cash = 100_000 - 100 * 100.01 - 1
    nlv = cash + 100 * 110.0
    assert values["TotalCashValue"][0] == pytest.approx(cash)
    assert values["GrossPositionValue"] == (11_000.0, "USD")
    assert values["NetLiquidation"][0] == pytest.approx(nlv)
    excess = nlv - 0.25 * 11_000
    assert values["AvailableFunds"][0] == pytest.approx(excess, abs=0.01)
    assert values["BuyingPower"][0] == pytest.approx(4 * excess, abs=0.01)
    assert values["UnrealizedPnL"][0] == pytest.approx(100 * (110 - 100.02))
    (row,) = b.account(ACCT).portfolio()
    assert (row.position, row.market_price, row.market_value) == (100, 110.0, 11_000.0)
    assert row.unrealized == pytest.approx(998.0)
    identity(b)


def test_daily_pnl_restarts_at_midnight_eastern_and_pnl_single() -> None:
    b = broker()
    trade(b, 1, "BUY", 100, 100.0, 1)
    b.on_tick(tick(102.0, 2))
    assert b.account(ACCT).pnl().daily == pytest.approx(100 * (102 - 100.01) - 1)
    next_day = OPEN + timedelta(days=1, minutes=1)
    b.on_tick(SimTick(next_day, AAPL, 103.0, 100, 102.99, 103.01, 100, 100))
    # baseline is the 102.00 mark of the previous day
    assert b.account(ACCT).pnl().daily == pytest.approx(100.0)
    single = b.account(ACCT).pnl_single(AAPL)
    assert single.position == 100 and single.value == pytest.approx(10_300)
    assert single.daily == pytest.approx(100.0)
    assert single.unrealized == pytest.approx(100 * (103 - 100.02))
    identity(b)


def test_fx_position_and_commission() -> None:
    b = broker()
    fx = SimTick(at(1), EURUSD, 1.08, 1e6, 1.07995, 1.08005, 1e6, 1e6)
    b.place_order(ACCT, 1, contract(EURUSD), order(1, "BUY", 100_000), at(0.5))
    (ex, *_) = b.on_tick(fx)
    assert ex.execution.price == pytest.approx(1.08005)
    assert ex.commission_report.commission == pytest.approx(2.16, abs=0.01)
    identity(b)


def test_execution_filter_as_ib() -> None:
    b = broker()
    trade(b, 1, "BUY", 10, 100.0, 1)
    b.place_order(ACCT, 2, contract(), order(2, "SELL", 5), at(1.5))
    b.on_tick(tick(101.0, 2))
    assert len(b.executions(ACCT)) == 2
    assert len(b.executions(ACCT, ExecutionFilter())) == 2
    assert [r.client_id for r in b.executions(ACCT, ExecutionFilter(clientId=2))] == [2]
    assert [r.execution.side for r in b.executions(ACCT, ExecutionFilter(side="SELL"))] == ["SLD"]
    assert b.executions(ACCT, ExecutionFilter(symbol="MSFT")) == []
    assert len(b.executions(ACCT, ExecutionFilter(secType="STK", exchange="SMART"))) == 2
    assert b.executions(ACCT, ExecutionFilter(acctCode="OTHER")) == []
    since = at(1.5).strftime("%Y%m%d-%H:%M:%S")
    assert [r.execution.orderId for r in b.executions(ACCT, ExecutionFilter(time=since))] == [2]
    since_et = "20240304 09:31:30 US/Eastern"  # 14:31:30 UTC
    assert len(b.executions(ACCT, ExecutionFilter(time=since_et))) == 1


def test_completed_orders_and_persistence_per_client() -> None:
    b = broker()
    trade(b, 1, "BUY", 10, 100.0, 1)
    b.place_order(ACCT, 1, contract(), order(2, "BUY", 10, "LMT", lmtPrice=50.0), at(2))
    b.place_order(ACCT, 2, contract(), order(2, "BUY", 10, "LMT", lmtPrice=50.0), at(2))
    b.cancel_order(ACCT, 1, 2, at(3))
    b.place_order(ACCT, 1, contract(), order(3, "BUY", 10, "LMT", lmtPrice=50.001), at(3))
    assert [s.status for s in b.completed_orders(ACCT)] == ["Filled", "Cancelled", "Inactive"]
    assert [(s.client_id, s.order.orderId) for s in b.open_orders(ACCT)] == [(2, 2)]
    assert b.open_orders(ACCT, client_id=1) == []
    perm_ids = {s.order.permId for s in b.completed_orders(ACCT)}
    assert len(perm_ids) == 3 and 0 not in perm_ids
