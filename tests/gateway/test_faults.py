"""Fault plans from YAML (with errors that point at the line) and the live fault state."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from ib_insync import Contract, LimitOrder, MarketOrder, Order, Stock, StopOrder

from bot.gateway.faults import (
    CloseClients,
    DropMarketData,
    DropOrders,
    FaultPlan,
    FaultPlanError,
    FaultState,
    FaultStep,
    Notice,
    parse_after,
)
from bot.gateway.ib_messages import IbError

START = datetime(2026, 10, 8, 13, 30, tzinfo=UTC)
AAPL = Stock("AAPL", "SMART", "USD")
MSFT = Stock("MSFT", "SMART", "USD")

PLAN = """\
fill_while_disconnected: false
steps:
  - {after: 90s, do: connectivity_lost}
  - {after: 2m, do: connectivity_restored, data: lost}
  - at: 2026-10-08T14:30:00Z
    do: restart
    seconds: 30
    keep_orders: false
  - {after: "1h30m", do: reject_orders, count: 2, symbol: AAPL, action: buy}
  - {after: 45, do: farm_broken, farm: hmds}
  - {at: "2026-10-08T13:31:00+00:00", do: delay_acks, seconds: 2.5}
"""


def load(text: str) -> FaultPlan:
    return FaultPlan.from_text(text, "plan.yaml")


def error_of(text: str) -> str:
    with pytest.raises(FaultPlanError) as e:
        load(text)
    return str(e.value)


# ---- loading ------------------------------------------------------------------------------------


def test_plan_loads_with_times_and_defaults() -> None:
    plan = load(PLAN)
    assert plan.fill_while_disconnected is False
    lost, restored, restart, reject, farm, delay = plan.steps
    assert (lost.action, lost.after, lost.at, lost.line) == (
        "connectivity_lost",
        timedelta(seconds=90),
        None,
        3,
    )
    assert restored.args["data"] == "lost"
    assert restart.at == datetime(2026, 10, 8, 14, 30, tzinfo=UTC)
    assert dict(restart.args) == {"seconds": 30.0, "keep_orders": False}
    assert restart.line == 5
    assert reject.after == timedelta(hours=1, minutes=30)
    assert dict(reject.args) == {
        "count": 2,
        "text": "Simulated rejection (fault plan)",
        "symbol": "AAPL",
        "action": "BUY",
        "order_type": None,
    }
    assert farm.after == timedelta(seconds=45) and dict(farm.args) == {"farm": "hmds", "name": None}
    assert delay.at == datetime(2026, 10, 8, 13, 31, tzinfo=UTC)


def test_a_bare_list_and_an_empty_file_are_plans(tmp_path: Path) -> None:
    plan = load("- {after: 1s, do: disconnect_all}\n")
    assert [s.action for s in plan.steps] == ["disconnect_all"]
    assert plan.fill_while_disconnected is True
    assert load("") == FaultPlan()
    path = tmp_path / "f.yaml"
    path.write_text("steps:\n")
    assert FaultPlan.load(path) == FaultPlan()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (
            "- {after: 1s, do: disconnect_all}\n- {after: 2s, do: disconect_all}\n",
            "plan.yaml:2: steps[1].do: unknown action 'disconect_all'"
            " (did you mean 'disconnect_all'?)",
        ),
        (
            "steps:\n  - after: 1s\n    do: restart\n    keep_order: true\n",
            "plan.yaml:4: steps[0].keep_order: unknown argument for restart"
            " (did you mean 'keep_orders'?) (known: seconds, keep_orders)",
        ),
        (
            "- after: 1s\n  do: restart\n  keep_orders: 'yes'\n",
            "plan.yaml:3: steps[0].keep_orders: expected bool, got 'yes'",
        ),
        (
            "- {after: 1s, at: 2026-10-08T14:30:00Z, do: stop_data}\n",
            "plan.yaml:1: steps[0]: needs exactly one of 'at' (time) or 'after' (delay)",
        ),
        ("- {do: stop_data}\n", "plan.yaml:1: steps[0]: needs exactly one of 'at'"),
        ("- {after: 1s}\n", "plan.yaml:1: steps[0]: missing key 'do' (the action)"),
        (
            "- {after: 5 minutes, do: stop_data}\n",
            "plan.yaml:1: steps[0].after: expected a duration like 90s, 2m or 1h30m,"
            " got '5 minutes'",
        ),
        (
            "- {at: 2026-10-08 14:30:00, do: stop_data}\n",
            "plan.yaml:1: steps[0].at: 2026-10-08T14:30:00 has no time zone",
        ),
        (
            "- {after: 1s, do: delay_acks}\n",
            "plan.yaml:1: steps[0].seconds: delay_acks needs 'seconds'",
        ),
        (
            "- {after: 1s, do: rollback_next_id, by: 0}\n",
            "plan.yaml:1: steps[0].by: must be >= 1, got 0",
        ),
        (
            "- {after: 1s, do: reject_orders, action: HOLD}\n",
            "plan.yaml:1: steps[0].action: expected one of BUY, SELL, got 'HOLD'",
        ),
        ("- disconnect_all\n", "plan.yaml:1: steps[0]: expected a mapping"),
        ("steps: {do: stop_data}\n", "plan.yaml:1: steps: expected a list of steps"),
        ("step: []\n", "plan.yaml:1: step: unknown key (did you mean 'steps'?)"),
        ("- {after: 1s, do: [x\n", "plan.yaml: not valid YAML"),
    ],
)
def test_errors_name_the_file_line_and_key(text: str, message: str) -> None:
    assert error_of(text).startswith(message)


def test_a_missing_file_is_named(tmp_path: Path) -> None:
    with pytest.raises(FaultPlanError, match=r"nope\.yaml: cannot read fault plan"):
        FaultPlan.load(tmp_path / "nope.yaml")


def test_durations() -> None:
    assert parse_after("90s") == timedelta(seconds=90)
    assert parse_after("2m") == timedelta(minutes=2)
    assert parse_after("1h30m") == timedelta(minutes=90)
    assert parse_after("1.5s") == timedelta(seconds=1.5)
    assert parse_after(0) == timedelta(0)
    with pytest.raises(ValueError):
        parse_after("")
    with pytest.raises(ValueError):
        parse_after(-1)


def test_steps_built_in_code_are_checked_too() -> None:
    step = FaultStep.make("restart", after="5s", seconds=3)
    assert step.after == timedelta(seconds=5) and dict(step.args) == {
        "seconds": 3.0,
        "keep_orders": True,
    }
    with pytest.raises(FaultPlanError, match="secs: unknown argument"):
        FaultStep.make("restart", secs=3)
    # a reject rule's own "action" argument does not clash with the step's action
    rule = FaultStep.make("reject_orders", action="sell", order_type="LMT")
    assert rule.action == "reject_orders" and rule.args["action"] == "SELL"


# ---- time-triggered steps ----------------------------------------------------------------------


def test_due_fires_each_step_once_in_time_order() -> None:
    state = FaultState(load(PLAN), start=START)
    assert state.due(START) == []
    assert [s.action for s in state.due(START + timedelta(seconds=45))] == ["farm_broken"]
    assert [s.action for s in state.due(START + timedelta(seconds=45))] == []
    # 13:31 delay_acks (at), 13:31:30 lost (after 90s), 13:32 restored (after 2m)
    later = [s.action for s in state.due(START + timedelta(minutes=5))]
    assert later == ["delay_acks", "connectivity_lost", "connectivity_restored"]
    # 14:30 restart (at) and 15:00 reject (after 1h30m), one jump of the clock
    assert [s.action for s in state.due(START + timedelta(hours=3))] == [
        "restart",
        "reject_orders",
    ]
    assert state.due(START + timedelta(days=1)) == []


def test_fire_due_applies_the_steps() -> None:
    state = FaultState(load(PLAN), start=START)
    assert state.fill_while_disconnected is False
    effects = state.fire_due(START + timedelta(minutes=1, seconds=30))
    assert effects == [
        Notice(2105, "HMDS data farm connection is broken:ushmds"),
        Notice(1100, "Connectivity between IB and Trader Workstation has been lost."),
    ]
    assert state.ack_delay == timedelta(seconds=2.5) and state.data_stopped
    effects = state.fire_due(START + timedelta(hours=1))
    assert effects == [
        Notice(
            1101, "Connectivity between IB and Trader Workstation has been restored - data lost."
        ),
        DropMarketData(),
        CloseClients(),
        DropOrders(),
    ]
    assert state.refusing(datetime(2026, 10, 8, 14, 30, 29, tzinfo=UTC))
    assert not state.refusing(datetime(2026, 10, 8, 14, 30, 30, tzinfo=UTC))


def test_after_steps_need_a_start_time() -> None:
    with pytest.raises(ValueError, match="start"):
        FaultState(load(PLAN)).due(START)
    only_at = load("- {at: 2026-10-08T14:30:00Z, do: stop_data}\n")
    assert [s.action for s in FaultState(only_at).due(START + timedelta(hours=1))] == ["stop_data"]


# ---- the control handle ------------------------------------------------------------------------


def test_connectivity_and_farm_notices_use_ibs_texts() -> None:
    s = FaultState()
    assert not s.data_stopped
    assert s.connectivity_lost() == [
        Notice(1100, "Connectivity between IB and Trader Workstation has been lost.")
    ]
    assert s.data_stopped and not s.connected
    assert s.connectivity_restored() == [
        Notice(
            1102,
            "Connectivity between IB and Trader Workstation has been restored - data maintained.",
        )
    ]
    assert not s.data_stopped
    assert s.farm_broken() == [Notice(2103, "Market data farm connection is broken:usfarm")]
    assert s.data_stopped
    assert s.farm_ok() == [Notice(2104, "Market data farm connection is OK:usfarm")]
    assert s.farm_broken("hmds") == [Notice(2105, "HMDS data farm connection is broken:ushmds")]
    assert not s.data_stopped  # historical farm only
    assert s.farm_ok("hmds", "euhmds") == [Notice(2106, "HMDS data farm connection is OK:euhmds")]
    assert s.farms == {"usfarm": True, "ushmds": True}


def test_stop_and_resume_data() -> None:
    s = FaultState()
    assert s.stop_data() == [] and s.data_stopped
    s.connectivity_lost()
    s.connectivity_restored()
    assert s.data_stopped  # still paused by stop_data
    assert s.resume_data() == [] and not s.data_stopped


def test_disconnect_and_restart() -> None:
    s = FaultState()
    assert s.disconnect_all() == [CloseClients()]
    assert not s.refusing(START)
    assert s.restart(START, seconds=30) == [CloseClients()]
    assert s.refusing(START + timedelta(seconds=29.9))
    assert not s.refusing(START + timedelta(seconds=30))
    assert s.restart(START, keep_orders=False) == [CloseClients(), DropOrders()]
    assert s.refusing(START + timedelta(seconds=9))
    assert not s.refusing(START + timedelta(seconds=10))


def rejected(text: str = "Simulated rejection (fault plan)") -> IbError:
    return IbError(201, "Order rejected - reason:" + text)


def test_reject_the_next_n_orders() -> None:
    s = FaultState()
    s.reject_orders(count=2)
    assert s.order_rejection(AAPL, MarketOrder("BUY", 1)) == rejected()
    assert s.order_rejection(MSFT, LimitOrder("SELL", 1, 10.0)) == rejected()
    assert s.order_rejection(AAPL, MarketOrder("BUY", 1)) is None
    assert s.reject_rules == []


def test_reject_orders_matching_a_rule() -> None:
    s = FaultState()
    s.reject_orders(count=1, symbol="aapl", action="sell", order_type="STP", text="No short")
    assert s.order_rejection(AAPL, MarketOrder("SELL", 1)) is None  # not a stop
    assert s.order_rejection(MSFT, StopOrder("SELL", 1, 9.0)) is None  # not AAPL
    assert s.order_rejection(AAPL, StopOrder("BUY", 1, 9.0)) is None  # not a sell
    assert s.order_rejection(AAPL, StopOrder("SELL", 1, 9.0)) == rejected("No short")
    assert s.order_rejection(AAPL, StopOrder("SELL", 1, 9.0)) is None  # count used up


def test_a_rule_without_count_rejects_until_cleared() -> None:
    s = FaultState()
    s.reject_orders(symbol="MSFT", text="Order rejected - reason:Trading halted")
    fx = Contract(secType="CASH", symbol="EUR", localSymbol="EUR.USD", currency="USD")
    s.reject_orders(symbol="EUR.USD")
    for _ in range(3):
        halted = s.order_rejection(MSFT, Order(action="BUY", orderType="MKT", totalQuantity=1))
        assert halted == IbError(201, "Order rejected - reason:Trading halted")
    assert s.order_rejection(fx, MarketOrder("BUY", 20000)) == rejected()
    assert s.order_rejection(AAPL, MarketOrder("BUY", 1)) is None
    assert s.clear_rejects() == []
    assert s.order_rejection(MSFT, MarketOrder("BUY", 1)) is None


def test_rollback_next_id_applies_once() -> None:
    s = FaultState()
    assert s.next_valid_id(100) == 100
    assert s.rollback_next_id(5) == []
    assert s.next_valid_id(100) == 95
    assert s.next_valid_id(100) == 100
    s.rollback_next_id(500)
    assert s.next_valid_id(100) == 1


def test_delay_acks() -> None:
    s = FaultState()
    assert s.ack_delay == timedelta(0)
    assert s.delay_acks(3) == [] and s.ack_delay == timedelta(seconds=3)
    s.delay_acks(0)
    assert s.ack_delay == timedelta(0)


def test_apply_dispatches_every_action() -> None:
    s = FaultState()
    steps = [
        FaultStep.make("stop_data"),
        FaultStep.make("resume_data"),
        FaultStep.make("farm_broken", farm="market", name="usfuture"),
        FaultStep.make("farm_ok"),
        FaultStep.make("disconnect_all"),
        FaultStep.make("reject_orders", count=1),
        FaultStep.make("clear_rejects"),
        FaultStep.make("delay_acks", seconds=1),
        FaultStep.make("rollback_next_id", by=2),
        FaultStep.make("connectivity_lost"),
        FaultStep.make("connectivity_restored"),
        FaultStep.make("restart", seconds=1),
    ]
    effects = [type(e).__name__ for st in steps for e in s.apply(st, START)]
    assert effects == ["Notice", "Notice", "CloseClients", "Notice", "Notice", "CloseClients"]
    assert (s.reject_rules, s.ack_delay, s.id_rollback) == ([], timedelta(seconds=1), 2)
    assert s.refusing(START)
