"""Execution ids never repeat across simulated broker instances (a restarted gateway must not
reissue an id a client has already journalled, or the client drops the new fill as a duplicate)."""

from __future__ import annotations

from broker_helpers import ACCT, at, broker, contract, order, tick

from bot.sim.broker import ExecutionEvent
from bot.sim.executions import exec_id


def test_exec_id_has_ibs_shape_and_carries_the_session() -> None:
    assert exec_id(0x0000E0D5, 0x6565F0A1) == "0000e0d5.6565f0a1.01.01"
    assert exec_id(1, 7) != exec_id(2, 7)


def _first_exec_id() -> str:
    b = broker()
    b.place_order(ACCT, 1, contract(), order(1, "BUY", 10), at(0))
    fills = [e for e in b.on_tick(tick(100.0)) if isinstance(e, ExecutionEvent)]
    assert len(fills) == 1
    return fills[0].execution.execId


def test_two_brokers_issue_different_ids_for_the_same_first_fill() -> None:
    ids = {_first_exec_id() for _ in range(10)}
    assert len(ids) == 10
