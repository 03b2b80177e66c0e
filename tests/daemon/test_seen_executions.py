"""Dedupe by execId keeps two days in memory; the journal answers for older executions."""

from __future__ import annotations

from datetime import datetime, timedelta
from pathlib import Path

from ib_insync import Stock
from support.fake_ib import FakeIB
from support.times import T0

from bot.config.executor import ExecutorConfig
from bot.journal.store import Journal
from bot.model.events import OrderSpec, PlaceOrder, Side
from bot.orders.executor import OrderExecutor
from bot.orders.message_rate import PacingGovernor
from bot.venues.ib import IbBroker

AAPL = Stock("AAPL", "SMART", "USD", conId=265598, primaryExchange="NASDAQ")
DAY = timedelta(days=1)


def _executor(ib: FakeIB, journal: Journal, clock: list[datetime]) -> OrderExecutor:
    ex = OrderExecutor(
        IbBroker(ib), ExecutorConfig(), journal, account=ib.account, dry_run=False,  # type: ignore[arg-type]
        now=lambda: clock[0], pacing=PacingGovernor(rate=1000, burst=100),
    )  # fmt: skip
    ex.register_contract("AAPL", AAPL, 0.01)
    return ex


def _buy(ex: OrderExecutor, ib: FakeIB, clock: list[datetime], when: datetime) -> str:
    clock[0] = ib.now = when
    ex.submit("s1", PlaceOrder("AAPL", OrderSpec(Side.BUY, 10), f"b{when:%d}"), ref_price=100.0)
    return ib.fill(ib.trade(ib.placed()[-1].orderId)).execution.execId


async def test_an_old_execution_replayed_after_a_restart_is_not_counted_again(
    tmp_path: Path,
) -> None:
    ib, clock = FakeIB(), [T0]
    journal = Journal(tmp_path / "j.sqlite")
    ex = _executor(ib, journal, clock)
    old = _buy(ex, ib, clock, T0)
    recent = _buy(ex, ib, clock, T0 + 3 * DAY)  # the window moves: the first day leaves it
    assert len(ex._tracker.seen) == 1
    assert ex.position("s1", "AAPL") == 20
    journal.close()
    # A restart the same day: the journal's recent fills are loaded, the old ones are not.
    ib.reconnect()
    journal = Journal(tmp_path / "j.sqlite")
    again = _executor(ib, journal, clock)
    assert len(again._tracker.seen) == 1 and again.position("s1", "AAPL") == 20
    fills: list[str] = []
    again.fill_event += lambda sid, f: fills.append(f.exec_id)
    await again.reconcile()  # reqExecutions answers with both, the old one included
    assert {f.execution.execId for f in await ib.reqExecutionsAsync()} == {old, recent}
    assert fills == [] and again.position("s1", "AAPL") == 20
    assert journal.query("SELECT COUNT(*) FROM fills") == [(2,)]
    journal.close()


async def test_a_day_of_fills_is_forgotten_once_two_days_have_passed(tmp_path: Path) -> None:
    ib, clock = FakeIB(), [T0]
    journal = Journal(tmp_path / "j.sqlite")
    ex = _executor(ib, journal, clock)
    for day in range(5):
        _buy(ex, ib, clock, T0 + day * DAY)
        assert len(ex._tracker.seen) == min(day + 1, 2)  # today's and yesterday's
    assert ex.position("s1", "AAPL") == 50
    journal.close()
