"""The write-ahead journal against FakeIB (bot/journal/store.py, bot/orders/placer.py,
bot/orders/reconcile.py): an order's row is committed before placeOrder; a journal that cannot be
written stops new orders and never raises in its commit timer; at restart a journalled order the
broker never saw is marked never_sent and not re-sent, and its sequence is not reused; a stale
nextValidId never gives a new order an old orderId; the write-ahead file survives a SIGKILL, is
replayed once at open (a torn last line skipped) and, when it cannot be written, stops new orders.
"""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from ib_insync import Contract, MarketOrder, Order, OrderStatus, Trade
from support.times import T0
from support.waiting import wait_until
from test_executor import SELL, Harness, place

from bot.journal import write_ahead
from bot.journal.schema import NEVER_SENT
from bot.journal.store import Journal, JournalError
from bot.journal.write_ahead import ahead_path
from bot.model.events import OrderSpec, OrderType, PlaceBracket, Side
from bot.ops.journal_view import day_report
from bot.runtime import crash_points


class Crash(BaseException):
    """The process dying at a crash point (nothing after it runs)."""


def committed(path: Path) -> dict[str, str | None]:
    """order_ref -> status, as another process would read the journal now (opening it
    replays the write-ahead file into SQLite first)."""
    journal = Journal(path)
    try:
        return dict(journal.query("SELECT order_ref, status FROM orders"))
    finally:
        journal.close()


def status(journal: Journal, ref: str) -> str | None:
    (row,) = journal.query("SELECT status FROM orders WHERE order_ref = ?", (ref,))
    return row[0]  # type: ignore[no-any-return]


@pytest.fixture
def h(tmp_path: Path) -> Iterator[Harness]:
    harness = Harness(tmp_path)
    yield harness
    harness.journal.close()


def crash_at(monkeypatch: pytest.MonkeyPatch, point: str) -> None:
    def reached(p: str) -> None:
        if p == point:
            raise Crash(p)

    monkeypatch.setattr(crash_points, "reached", reached)


# ---- the row before the order -------------------------------------------------------------


def test_every_leg_is_committed_before_the_first_is_sent(h: Harness) -> None:
    seen: list[tuple[str, set[str]]] = []
    place_order = h.ib.placeOrder

    def spy(contract: Contract, order: Order) -> Trade:
        seen.append((order.orderRef, set(committed(h.journal.path))))
        return place_order(contract, order)

    h.ib.placeOrder = spy  # type: ignore[method-assign]
    h.submit(place("e1", quantity=5))
    bracket = PlaceBracket(
        "MSFT", OrderSpec(Side.BUY, 5),
        OrderSpec(SELL, 5, OrderType.LIMIT, limit_price=120.0),
        OrderSpec(SELL, 5, OrderType.STOP, stop_price=90.0), tag="br",
    )  # fmt: skip
    h.submit(bracket)
    refs = [ref for ref, _ in seen]
    assert refs == ["ibbot:s1:AAPL:e1:1", "ibbot:s1:MSFT:br:1", "ibbot:s1:MSFT:br.tp:1",
                    "ibbot:s1:MSFT:br.sl:1"]  # fmt: skip
    assert all(ref in rows for ref, rows in seen)
    assert set(refs[1:]) <= seen[1][1]  # the whole bracket before its parent goes out


# ---- a journal that cannot be written ------------------------------------------------------


def test_a_journal_that_cannot_be_written_refuses_new_orders(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    failures: list[str] = []
    h.journal.failed_event += failures.append
    h.submit(place("e1"))
    h.journal._db.execute("PRAGMA query_only = 1")  # every write fails, as on a read-only file
    with caplog.at_level(logging.ERROR, "bot.journal.store"):
        h.journal.flush()  # the commit timer's: orders append to the write-ahead file only
        h.submit(place("e2", symbol="MSFT"))
        h.submit(place("e3"))
    assert [o.orderRef for o in h.ib.placed()] == ["ibbot:s1:AAPL:e1:1"]
    reasons = [r.reason for r in h.rejections]
    assert len(reasons) == 2 and all(r.startswith("journal: journal ") for r in reasons)
    assert str(h.journal.path) in reasons[0] and "readonly database" in reasons[0]
    assert failures == [h.journal.failure]  # once
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert str(h.journal.path) in error.getMessage()
    assert "attempt to write a readonly database" in error.getMessage()
    assert h.ex.open_orders("s1") == 1  # the refused ones are not left working
    h.journal._db.execute("PRAGMA query_only = 0")
    h.journal.flush()  # what was pending is written once the file is writable again
    rows = committed(h.journal.path)
    assert rows["ibbot:s1:MSFT:e2:1"] == OrderStatus.Cancelled


async def test_a_failed_timer_commit_raises_nothing(tmp_path: Path) -> None:
    loop_errors: list[dict[str, Any]] = []
    asyncio.get_running_loop().set_exception_handler(lambda _, ctx: loop_errors.append(ctx))
    journal = Journal(tmp_path / "j.sqlite", commit_interval=0.01)
    journal.begin_run(now=T0, account="DU1", mode="paper", dry_run=False)
    journal._db.execute("PRAGMA query_only = 1")
    journal.record_event("note", "one", T0)
    await wait_until(lambda: journal.failure is not None, what="the timer's commit failing")
    assert loop_errors == []
    assert journal.failure is not None and "readonly" in journal.failure
    order = MarketOrder("BUY", 1)
    with pytest.raises(JournalError, match="cannot be written"):  # no order can go out now
        journal.record_order(ref="r", strategy_id="s1", symbol="AAPL", tag="t", seq=1,
                             order=order, spec=OrderSpec(Side.BUY, 1), now=T0,
                             write_ahead=True)  # fmt: skip
    journal._db.execute("PRAGMA query_only = 0")
    journal.close()


def test_a_journal_that_cannot_be_opened_names_the_file(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    path.write_text("not a database, but a text file that is long enough " * 20)
    with pytest.raises(Exception, match=f"{path}: cannot open the journal: file is not a database"):
        Journal(path)


# ---- restart: journalled, never sent -------------------------------------------------------


async def test_an_order_journalled_but_never_sent_is_marked_and_not_resent(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    first = Harness(tmp_path)
    first.submit(place("e1", quantity=10))
    first.ib.fill(first.last_trade())
    crash_at(monkeypatch, "after_journal")
    with pytest.raises(Crash):
        first.submit(place("e2", quantity=7))
    monkeypatch.undo()
    assert committed(first.journal.path)["ibbot:s1:AAPL:e2:2"] is None  # the row, no state
    ib = first.ib
    ib.reconnect()  # the restart: a new process, its journal read back
    second = Harness(tmp_path, ib=ib)
    with caplog.at_level(logging.WARNING, "bot.orders.reconcile"):
        await second.ex.reconcile()
    assert ib.placed() == []  # nothing re-sent
    assert status(second.journal, "ibbot:s1:AAPL:e2:2") == NEVER_SENT
    assert ("order ibbot:s1:AAPL:e2:2 (strategy s1, AAPL) was journalled but never reached the "
            "broker: marked never_sent, not re-sent") in caplog.text  # fmt: skip
    assert second.ex.position("s1", "AAPL") == 10
    second.submit(place("e2", quantity=7))
    assert ib.placed()[-1].orderRef == "ibbot:s1:AAPL:e2:3"  # sequence 2 is not reused
    await second.ex.reconcile()  # again: the never-sent row is settled for good
    assert second.journal.reads.unfinished_orders()[0][0] == "ibbot:s1:AAPL:e2:3"
    second.journal.close()


async def test_an_order_sent_then_filled_while_down_ends_filled_in_the_journal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Harness(tmp_path)
    crash_at(monkeypatch, "after_send")
    with pytest.raises(Crash):
        first.submit(place("e1", quantity=10))
    monkeypatch.undo()
    ib = first.ib
    ib.reconnect()
    oid = ib.trade(ib.trades()[0].order.orderId).order.orderId
    ib.fill(ib.trade(oid))  # while the bot is down: nobody is bound to the fresh Trade
    second = Harness(tmp_path, ib=ib)
    await second.ex.reconcile()
    assert status(second.journal, "ibbot:s1:AAPL:e1:1") == OrderStatus.Filled
    ((filled, avg),) = second.journal.query(
        "SELECT filled, avg_fill_price FROM orders WHERE order_ref = 'ibbot:s1:AAPL:e1:1'")
    assert (filled, avg) == (10, 100.0)
    assert second.ex.position("s1", "AAPL") == 10
    assert second.journal.reads.unfinished_orders() == []
    second.journal.close()


# ---- nextValidId ----------------------------------------------------------------------------


def test_a_stale_next_valid_id_never_reuses_an_order_id(h: Harness) -> None:
    h.submit(place("e1"))
    h.ib.fill(h.last_trade())
    first = h.ib.placed()[-1].orderId
    h.ib.client.next_valid_id(first - 3)  # a reconnect whose nextValidId was rolled back
    h.submit(place("e2"))
    assert h.ib.placed()[-1].orderId == first + 1


def test_a_restart_continues_above_the_journals_order_ids(tmp_path: Path) -> None:
    first = Harness(tmp_path)
    first.submit(place("e1"))
    first.submit(place("e2", symbol="MSFT"))
    last = first.ib.placed()[-1].orderId
    first.journal.close()
    second = Harness(tmp_path)  # a new FakeIB: its nextValidId starts below the journal's ids
    assert second.ib.client.getReqId() < last
    second.submit(place("e3"))
    assert second.ib.placed()[-1].orderId > last
    second.journal.close()


def test_orders_are_matched_by_order_ref_not_order_id(h: Harness) -> None:
    """Two Trades sharing an orderId (a collision IB could report after a rollback) each
    reach their own record."""
    h.submit(place("e1", quantity=3))
    h.submit(place("e2", symbol="MSFT", quantity=4))
    e1, e2 = (h.ib.trade(o.orderId) for o in h.ib.placed())
    e2.order.orderId = e1.order.orderId  # the same id, different refs
    h.ib.fill(e2)
    assert [(sid, f.symbol, f.quantity) for sid, f in h.fills] == [("s1", "MSFT", 4)]
    assert h.ex.position("s1", "MSFT") == 4 and h.ex.position("s1", "AAPL") == 0


# ---- the write-ahead file (bot/journal/write_ahead.py)
# ---------------------------------------------


def sqlite_refs(path: Path) -> set[str]:
    """The order refs SQLite itself holds, read without replaying the write-ahead file."""
    db = sqlite3.connect(path)
    try:
        return {ref for (ref,) in db.execute("SELECT order_ref FROM orders")}
    finally:
        db.close()


_KILLED_AFTER_WRITE_AHEAD = """
import os, signal, sys
from bot.model.events import OrderSpec, Side
from ib_insync import MarketOrder
from bot.journal.store import Journal
from support.times import T0
journal = Journal(sys.argv[1], commit_interval=3600)
journal.begin_run(now=T0, account="DU1", mode="paper", dry_run=False)
order = MarketOrder("BUY", 5)
order.orderId = 7
journal.record_order(ref="ibbot:s1:AAPL:e1:1", strategy_id="s1", symbol="AAPL", tag="e1",
                     seq=1, order=order, spec=OrderSpec(Side.BUY, 5), now=T0, write_ahead=True)
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_a_row_written_ahead_survives_a_sigkill_before_sqlite_has_it(tmp_path: Path) -> None:
    path = tmp_path / "journal.sqlite"
    tests = Path(__file__).parents[1]  # for support.times
    proc = subprocess.run([sys.executable, "-c", _KILLED_AFTER_WRITE_AHEAD, str(path)],
                          env={**os.environ, "PYTHONPATH": str(tests)}, timeout=60)  # fmt: skip
    assert proc.returncode == -signal.SIGKILL
    assert sqlite_refs(path) == set()  # only the write-ahead file has it
    journal = Journal(path)  # the restart: the file is replayed before anything reads
    journal.broker = "ib:DU1"
    assert journal.reads.unfinished_orders() == [("ibbot:s1:AAPL:e1:1", 7, 0, "s1", "AAPL")]
    assert journal.reads.sequences() == {("s1", "AAPL"): 1}
    journal.close()


def test_the_write_ahead_file_is_emptied_once_sqlite_has_its_rows_and_it_has_grown(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    ahead = ahead_path(h.journal.path)
    h.submit(place("e1"))
    assert ahead.read_text().count("\n") == 1 and sqlite_refs(h.journal.path) == set()
    h.journal.flush()
    # Folded, and kept while small (an emptied file makes the next appends dearer).
    assert ahead.read_text().count("\n") == 1
    assert sqlite_refs(h.journal.path) == {"ibbot:s1:AAPL:e1:1"}
    monkeypatch.setattr(write_ahead, "KEEP_BYTES", 2 * ahead.stat().st_size)
    h.submit(place("e2"))
    h.journal.flush()  # now past KEEP_BYTES, all of it folded: emptied
    assert ahead.read_bytes() == b"" and sqlite_refs(h.journal.path) == {
        "ibbot:s1:AAPL:e1:1", "ibbot:s1:AAPL:e2:2"
    }  # fmt: skip
    h.submit(place("e3"))
    h.journal.close()
    assert not ahead.exists()  # a clean stop leaves no file
    assert len(sqlite_refs(h.journal.path)) == 3


def test_a_torn_last_line_is_skipped_with_a_warning(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    h.submit(place("e1"))
    h.submit(place("e2", symbol="MSFT"))
    ahead = ahead_path(h.journal.path)
    first, second = ahead.read_bytes().splitlines(keepends=True)
    ahead.write_bytes(first + second[:40])  # killed in the middle of e2's write
    with caplog.at_level(logging.WARNING, "bot.journal.write_ahead"):
        assert set(committed(h.journal.path)) == {"ibbot:s1:AAPL:e1:1"}
    assert f"{ahead}: its last line was cut short" in caplog.text
    h.journal._batch.pending.clear()  # the process that wrote it is dead: nothing of it remains


def test_replaying_is_idempotent_and_keeps_what_sqlite_knows_later(h: Harness) -> None:
    h.submit(place("e1"))
    h.ib.fill(h.last_trade())
    ahead = ahead_path(h.journal.path)
    line = ahead.read_bytes()
    h.journal.flush()  # the row, now Filled, is in SQLite; its line stays in the file
    ahead.write_bytes(line + line)  # the folded line, twice: as a kill leaves it
    assert committed(h.journal.path) == {"ibbot:s1:AAPL:e1:1": OrderStatus.Filled}
    assert committed(h.journal.path) == {"ibbot:s1:AAPL:e1:1": OrderStatus.Filled}
    (rows,) = h.journal.query("SELECT COUNT(*) FROM orders")
    assert rows == (1,)


def test_a_write_ahead_file_that_cannot_be_written_refuses_new_orders(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    failures: list[str] = []
    h.journal.failed_event += failures.append
    h.submit(place("e1"))
    ahead = h.journal._ahead
    assert ahead is not None and ahead._fd is not None
    full = os.open("/dev/full", os.O_WRONLY)  # every write: ENOSPC, as on a full disk
    saved = os.dup(ahead._fd)
    os.dup2(full, ahead._fd)
    try:
        with caplog.at_level(logging.ERROR, "bot.journal.store"):
            h.submit(place("e2", symbol="MSFT"))
            h.submit(place("e3"))
    finally:
        os.dup2(saved, ahead._fd)
        os.close(saved)
        os.close(full)
    assert [o.orderRef for o in h.ib.placed()] == ["ibbot:s1:AAPL:e1:1"]
    reasons = [r.reason for r in h.rejections]
    assert len(reasons) == 2 and all(r.startswith("journal: journal ") for r in reasons)
    assert reasons[0] == (f"journal: journal {h.journal.path} cannot be written: OSError: "
                          f"[Errno 28] No space left on device: '{ahead.path}'")  # fmt: skip
    assert failures == [h.journal.failure]  # once: the daemon pauses entries and stops
    (error,) = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert "No space left on device" in error.getMessage()
    assert h.ex.open_orders("s1") == 1
    h.journal.flush()  # SQLite is fine: what was pending is written, e2 refused
    assert committed(h.journal.path)["ibbot:s1:MSFT:e2:1"] == OrderStatus.Cancelled


def test_a_backtest_journal_writes_no_file_and_keeps_its_rows(tmp_path: Path) -> None:
    journal = Journal(tmp_path / "bt.sqlite", write_ahead=False)
    journal.begin_run(now=T0, account="DU1", mode="backtest", dry_run=False)
    journal.record_order(ref="r", strategy_id="s1", symbol="AAPL", tag="t", seq=1,
                         order=MarketOrder("BUY", 1), spec=OrderSpec(Side.BUY, 1), now=T0,
                         write_ahead=True)  # fmt: skip
    assert not ahead_path(journal.path).exists()
    assert journal.query("SELECT order_ref FROM orders") == [("r",)]
    journal.close()


def test_the_operators_journal_view_sees_an_order_only_written_ahead(h: Harness) -> None:
    h.journal.begin_run(now=T0, account="DU1234567", mode="paper", dry_run=False)
    h.submit(place("e1"))
    h.journal.flush()
    h.submit(place("e2"))  # then the daemon is killed: e2's row is in the file only
    assert "ibbot:s1:AAPL:e2:2" not in sqlite_refs(h.journal.path)
    report = day_report(h.journal.path, T0.date())  # `ibbot journal`, `ibbot status`
    assert [o["order_ref"] for o in report.orders] == ["ibbot:s1:AAPL:e1:1", "ibbot:s1:AAPL:e2:2"]
