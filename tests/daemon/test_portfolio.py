"""The one portfolio: hand-computed P&L, account sums, and a restart mid-day that reports the
same figures as an uninterrupted run (rebuilt from the journal's fills and commissions)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from support.times import NY

from bot.journal.store import Journal
from bot.portfolio.book import Portfolio

DAY1 = datetime(2024, 3, 4, 15, tzinfo=UTC)
DAY2 = datetime(2024, 3, 5, 15, tzinfo=UTC)  # the next New York day


class Run:
    """A portfolio fed as the executor feeds it: each fill journalled and booked."""

    def __init__(self, journal: Journal, now: datetime, marks: dict[str, float]) -> None:
        self.journal, self.marks = journal, marks
        self.p = Portfolio.restore(journal, NY, now, marks)
        self.n = len(journal.query("SELECT 1 FROM fills"))

    def fill(self, sid: str, symbol: str, qty: float, price: float, fee: float,
             t: datetime) -> None:  # fmt: skip
        self.n += 1
        self.journal.record_fill(
            exec_id=f"x{self.n}", ref="r", strategy_id=sid, symbol=symbol, tag="t", order_id=1,
            side="BUY" if qty > 0 else "SELL", quantity=abs(qty), price=price, commission=fee,
            time=t,
        )  # fmt: skip
        self.p.on_fill(sid, symbol, qty, price, t)
        self.p.add_commission(sid, fee, symbol)


def journal_at(path: Path, now: datetime) -> Journal:
    j = Journal(path)
    j.begin_run(now=now, account="DU1", mode="paper", dry_run=False)
    return j


def test_hand_computed_figures_per_strategy_and_account(tmp_path: Path) -> None:
    marks = {"AAPL": 100.0, "MSFT": 50.0}
    run = Run(journal_at(tmp_path / "j.sqlite", DAY1), DAY1, marks)
    run.fill("a", "AAPL", 10, 100.0, 1.0, DAY1)
    run.fill("a", "AAPL", 10, 110.0, 1.0, DAY1)
    run.fill("b", "AAPL", -5, 105.0, 1.0, DAY1)
    run.fill("b", "MSFT", 100, 50.0, 1.0, DAY1)
    p = run.p
    marks["AAPL"], marks["MSFT"] = 120.0, 49.0
    assert p.get("a", "AAPL") == 20 and p.books[("a", "AAPL")].avg_cost == 105
    assert p.symbol_position("AAPL") == 15
    assert p.total("a") == pytest.approx(20 * 15 - 2)
    assert p.total("b") == pytest.approx(-5 * 15 - 100 - 2)
    assert p.total() == pytest.approx(p.total("a") + p.total("b"))
    assert p.exposure() == pytest.approx((15 * 120 + 100 * 49, 15 * 120 + 100 * 49))
    assert p.exposure("b") == pytest.approx((5 * 120 + 4900, -600 + 4900))
    trips: list[tuple[str, str, float]] = []
    p.round_trip_event += lambda sid, sym, pnl, _t: trips.append((sid, sym, pnl))
    run.fill("a", "AAPL", -20, 100.0, 1.0, DAY1)
    # The trip's net: its commissions known when it closed (the exit's comes after the fill).
    assert trips == [("a", "AAPL", pytest.approx(20 * -5 - 2))]
    assert p.today("a") == pytest.approx(-103)


def test_a_restart_mid_day_reports_what_an_uninterrupted_run_does(tmp_path: Path) -> None:
    fills = [  # (sid, symbol, qty, price, fee, time)
        ("a", "AAPL", 10, 100.0, 1.0, DAY1),
        ("b", "MSFT", -7, 50.0, 0.5, DAY1 + timedelta(hours=1)),
        ("a", "AAPL", 5, 101.0, 1.0, DAY1 + timedelta(hours=3)),  # held overnight
        ("bar", "AAPL", 0, 101.0, 0.0, DAY2 - timedelta(minutes=30)),  # the day rolls here
        ("a", "AAPL", -8, 104.0, 1.0, DAY2),
        ("b", "MSFT", 7, 49.0, 0.5, DAY2 + timedelta(minutes=5)),
        ("a", "AAPL", -7, 99.0, 1.0, DAY2 + timedelta(minutes=30)),
        ("b", "MSFT", 3, 48.0, 0.5, DAY2 + timedelta(minutes=40)),
    ]
    split = 5  # the restart comes after the day rolled, mid-day on DAY2

    def play(path: Path, restart: bool) -> Portfolio:
        marks = {"AAPL": 100.0, "MSFT": 50.0}
        j = journal_at(path, DAY1)
        run = Run(j, DAY1, marks)
        for i, (sid, sym, qty, price, fee, t) in enumerate(fills):
            if restart and i == split:
                j.close()
                j = journal_at(path, t)
                run = Run(j, t, marks)
            run.p.roll(t)
            marks[sym] = price
            if sid != "bar":
                run.fill(sid, sym, qty, price, fee, t)
        marks.update(AAPL=102.0, MSFT=47.5)
        return run.p

    once, twice = play(tmp_path / "once.sqlite", False), play(tmp_path / "twice.sqlite", True)
    for sid in ("a", "b", None):
        assert twice.today(sid) == pytest.approx(once.today(sid))
        assert twice.total(sid) == pytest.approx(once.total(sid))
        assert twice.day_high(sid) == pytest.approx(once.day_high(sid))
    assert dict(twice.items()) == dict(once.items())
    assert twice.books[("b", "MSFT")].avg_cost == once.books[("b", "MSFT")].avg_cost
    # By hand: DAY2 starts with a's 15 AAPL (cost 100.33) marked 101 at the roll; sold 8 at
    # 104 and 7 at 99, 2 of commissions that day.
    assert once.today("a") == pytest.approx(8 * 3 - 7 * 2 - 2)


def test_the_risk_stages_exposure_follows_every_fill_in_both_scopes() -> None:
    """``valued_after`` (the risk stage's O(1) exposure) equals ``exposure`` right after each
    fill, before the next bar revalues anything, for the strategy as for the account:
    opening, adding, reducing, flipping, flat."""
    marks: dict[str, float] = {}
    p = Portfolio(NY, marks)
    steps = [("a", 10, 100.0), ("a", 5, 102.0), ("b", -3, 101.0), ("a", -12, 99.0),
             ("a", -8, 98.0), ("a", 5, 97.0)]  # fmt: skip
    for sid, qty, price in steps:
        marks["AAPL"] = price  # a bar closed there, then the fill at its price
        p.revalue("AAPL")
        p.on_fill(sid, "AAPL", qty, price, DAY1)
        for scope in (sid, None):
            assert p.valued_after(scope, "AAPL", 0, price) == pytest.approx(p.exposure(scope)), (
                f"after {sid} {qty:+} @ {price}: scope {scope or 'account'}"
            )
