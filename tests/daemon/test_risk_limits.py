"""Each limit of the risk stage with hand-computed figures, over a real portfolio: account sums
over strategies, exposure, order size, collar, window, P&L limits and states, cooldown,
duplicates, and the states restored from the journal."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from ib_insync import Contract
from support.times import NY

from bot.config.risk import RiskConfig, RiskLimits
from bot.journal.store import Journal
from bot.model.events import (
    Bar,
    CancelOrder,
    ModifyOrder,
    OrderSpec,
    OrderType,
    PlaceBracket,
    PlaceOrder,
    Rejection,
    Side,
    TargetPosition,
    WorkingOrder,
)
from bot.portfolio.book import Portfolio
from bot.risk.manager import RiskManager
from bot.risk.states import Level, State
from bot.strategy.context import SymbolInfo, parse_sessions

NOW = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)  # Monday 10:00 New York
HOURS = "20240304:0930-20240304:1600;20240305:0930-20240305:1600"
AAPL = SymbolInfo("AAPL", Contract(conId=1), 0.01, NY, parse_sessions(HOURS, NY))
CLOSE = datetime(2024, 3, 4, 21, 0, tzinfo=UTC)


class Orders:
    def __init__(self) -> None:
        self.working: list[WorkingOrder] = []

    def open_orders(self, strategy_id: str | None) -> int:
        return len(self.working)

    def working_on(self, symbol: str) -> list[WorkingOrder]:
        return [w for w in self.working if w.symbol == symbol]


class World:
    def __init__(self, journal: Journal, account: dict[str, Any] | None = None,
                 **per_strategy: dict[str, Any]) -> None:  # fmt: skip
        self.marks: dict[str, float] = {"AAPL": 100.0, "MSFT": 50.0}
        self.pf = Portfolio.restore(journal, NY, NOW, self.marks)
        self.orders = Orders()
        self.flattened: list[tuple[str | None, str | None]] = []
        acct = {"max_orders_per_minute": None, **(account or {})}
        self.risk = RiskManager(
            RiskConfig(**acct), journal, portfolio=self.pf, orders=self.orders,
            infos={"AAPL": AAPL},
            strategies={sid: RiskLimits(**lim) for sid, lim in per_strategy.items()},
            flatten=lambda sid, sym, why: self.flattened.append((sid, sym)),
        )  # fmt: skip

    def hold(self, sid: str, symbol: str, qty: float, price: float = 100.0) -> None:
        self.pf.on_fill(sid, symbol, qty, price, NOW)

    def why(self, intent: Any, sid: str = "s1", now: datetime = NOW,
            working: dict[str, WorkingOrder] | None = None) -> str | None:  # fmt: skip
        symbol = intent.symbol
        d = self.risk.check(sid, intent, position=self.pf.get(sid, symbol),
                            ref_price=self.marks[symbol], now=now, working=working)  # fmt: skip
        return d.reason if isinstance(d, Rejection) else None


@pytest.fixture
def journal(tmp_path: Path) -> Iterator[Journal]:
    j = Journal(tmp_path / "j.sqlite")
    j.begin_run(now=NOW, account="DU1", mode="paper", dry_run=False)
    yield j
    j.close()


def buy(qty: float, symbol: str = "AAPL", **kw: Any) -> PlaceOrder:
    return PlaceOrder(symbol, OrderSpec(Side.BUY, qty, **kw))


def sell(qty: float, symbol: str = "AAPL", **kw: Any) -> PlaceOrder:
    return PlaceOrder(symbol, OrderSpec(Side.SELL, qty, **kw))


def test_the_accounts_max_position_sums_every_strategy(journal: Journal) -> None:
    w = World(journal, {"max_position": 15}, s1={"max_position": 12})
    w.hold("s2", "AAPL", 10)
    assert w.why(buy(5)) is None
    assert w.why(buy(6)) == (
        "max_position 15 exceeded for AAPL (the account, all strategies): position 10 + order 6"
    )
    assert w.why(buy(13), sid="s3") is not None
    w.hold("s2", "AAPL", -10)
    assert w.why(buy(13)) == "max_position 12 exceeded for AAPL: position 0 + order 13"
    # Another strategy's same-side working order counts toward the account's cap.
    w.orders.working.append(WorkingOrder("AAPL", "t", 1, OrderSpec(Side.BUY, 8), 0, "Submitted"))
    assert w.why(buy(8)) == ("max_position 15 exceeded for AAPL (the account, all strategies): "
                             "position 0 + working 8 + order 8")  # fmt: skip


def test_max_position_notional_and_exposure(journal: Journal) -> None:
    w = World(journal, {"max_gross_exposure": 3000, "max_net_exposure": 2500},
              s1={"max_position_notional": 2000})  # fmt: skip
    assert w.why(buy(20)) is None
    assert w.why(buy(21)) == (
        "max_position_notional 2000 exceeded for AAPL (s1): 21 x 100.00 = 2100.00"
    )
    w.hold("s2", "MSFT", 20, 50.0)  # 1000 long
    assert w.why(buy(15)) is None  # gross 2500, net 2500
    assert w.why(buy(16)) == (
        "max_net_exposure 2500 exceeded (the account): 2600.00 after the order on AAPL"
    )
    assert w.why(sell(19)) is None  # gross 1000 + 1900 = 2900, net -900
    assert w.why(sell(21), sid="s2") == (
        "max_gross_exposure 3000 exceeded (the account): 3100.00 after the order on AAPL"
    )


def test_order_quantity_open_orders_and_orders_per_day(journal: Journal) -> None:
    w = World(journal, {"max_open_orders": 1, "max_orders_per_day": 2},
              s1={"max_order_quantity": 10})  # fmt: skip
    assert w.why(buy(11)) == "max_order_quantity 10 exceeded for AAPL (s1): order 11"
    assert w.why(buy(10)) is None
    w.orders.working.append(WorkingOrder("AAPL", "entry", 1, OrderSpec(Side.BUY, 10), 0, "Sub"))
    assert w.why(buy(1)) == "max_open_orders 1 reached (the account): 1 working"
    w.orders.working.clear()
    assert w.why(sell(1)) is None
    assert w.why(buy(1)) == "max_orders_per_day 2 reached (the account)"
    w.risk.on_bar("AAPL", NOW)
    w.risk.on_bar("AAPL", NOW + timedelta(days=1))  # a new day: the count starts again
    assert w.why(buy(1), now=NOW + timedelta(days=1)) is None


def test_price_collar_names_the_price_the_last_price_and_the_collar(journal: Journal) -> None:
    w = World(journal, {"price_collar_pct": 5})
    assert w.why(buy(1, order_type=OrderType.LIMIT, limit_price=105.0)) is None
    assert w.why(buy(1, order_type=OrderType.LIMIT, limit_price=150.0)) == (
        "price collar: limit price 150.00 is +50.0% from the last price 100.00 of AAPL "
        "(collar 5%)"
    )
    sl = OrderSpec(Side.SELL, 1, OrderType.STOP, stop_price=80.0)
    assert "stop price 80.00 is -20.0%" in str(w.why(PlaceBracket("AAPL", OrderSpec(Side.BUY, 1),
                                                                  stop_loss=sl)))  # fmt: skip
    wo = WorkingOrder("AAPL", "lmt", 1, OrderSpec(Side.BUY, 1, OrderType.LIMIT, 99.0), 0, "Sub")
    assert "limit price 10.00" in str(w.why(ModifyOrder("AAPL", "lmt", limit_price=10.0),
                                            working={"lmt": wo}))  # fmt: skip


def test_price_collar_in_atr(journal: Journal) -> None:
    w = World(journal, {"price_collar_atr": 2, "price_collar_pct": 50})
    lmt = buy(1, order_type=OrderType.LIMIT, limit_price=104.5)
    assert w.why(lmt) is None  # no ATR yet: the percent collar alone
    for i in range(14):  # true range 2.00 every bar: ATR(14) = 2
        w.risk.observe_bar(Bar("AAPL", NOW + timedelta(minutes=i), 100, 101, 99, 100, 1, 60))
    assert w.why(buy(1, order_type=OrderType.LIMIT, limit_price=104.0)) is None  # at 2 ATR
    assert w.why(lmt) == ("price collar: limit price 104.50 is +4.5% from the last price 100.00 "
                          "of AAPL (collar 2 ATR = 4.00)")  # fmt: skip


def test_short_selling_and_the_one_target_rule(journal: Journal) -> None:
    w = World(journal, s1={"allow_short": False, "max_position": 10})
    w.hold("s1", "AAPL", 5)
    assert w.why(sell(5)) is None  # to flat: reducing
    assert w.why(sell(6)) == "short selling not allowed (s1): AAPL position 5 + order -6"
    # A target counts orders in flight toward it, as the executor does (bot/model/targets.py).
    inflight = {"target.1": WorkingOrder("AAPL", "target.1", 1, OrderSpec(Side.BUY, 3), 0, "S")}
    d = w.risk.check("s1", TargetPosition("AAPL", 20), position=5, ref_price=100.0, now=NOW,
                     working=inflight)  # fmt: skip
    assert d == TargetPosition("AAPL", 10, "shrunk to max_position (10)")


def test_trading_window_and_flatten_before_the_close(journal: Journal) -> None:
    w = World(journal, s1={"session_only": True, "no_entries_before_close_min": 15,
                           "flatten_before_close_min": 5})  # fmt: skip
    assert w.why(buy(1)) is None
    early = datetime(2024, 3, 4, 14, 0, tzinfo=UTC)  # 09:00 New York
    assert w.why(buy(1), now=early) == (
        "trading window: AAPL is outside its liquid hours at 14:00 UTC"
    )
    late = CLOSE - timedelta(minutes=10)
    assert w.why(buy(1), now=late) == (
        "trading window: no new entries on AAPL in the last 15 min before the close (21:00 UTC)"
    )
    w.hold("s1", "AAPL", 3)
    assert w.why(sell(3), now=late) is None  # exits stay open
    w.risk.on_bar("AAPL", late)
    assert w.flattened == []
    w.risk.on_bar("AAPL", CLOSE - timedelta(minutes=5))
    w.risk.on_bar("AAPL", CLOSE - timedelta(minutes=4))
    assert w.flattened == [("s1", "AAPL")]  # once per session


def test_daily_loss_drawdown_profit_and_halt_at(journal: Journal) -> None:
    w = World(journal, {"daily_profit_target": 500},
              s1={"daily_loss_limit": 100, "flatten_on_limit": True},
              s2={"max_drawdown": 50}, s3={"halt_at": "15:45"})  # fmt: skip
    w.hold("s1", "AAPL", 10)
    w.hold("s2", "MSFT", 10, 50.0)
    w.marks["MSFT"] = 60.0  # s2 +100: its high
    w.risk.on_bar("MSFT", NOW)
    w.marks["AAPL"], w.marks["MSFT"] = 89.0, 54.0  # s1 -110, s2 +40: 60 off its high
    w.risk.on_bar("AAPL", NOW + timedelta(minutes=1))
    assert w.risk.state("s1", NOW) == State(
        Level.REDUCING, "daily loss -110.00 reached daily_loss_limit 100")
    assert w.flattened == [("s1", None)]
    assert w.risk.state("s2", NOW).reason.startswith("drawdown 60.00 from the day's high 100.00")
    assert w.why(buy(1)) == ("s1 is REDUCING (daily loss -110.00 reached daily_loss_limit "
                             "100): only orders that reduce the position")  # fmt: skip
    assert w.why(sell(10)) is None
    w.risk.pause_entries("feed", "entries paused", now=NOW)
    w.risk.resume(strategy_id="s2", now=NOW)  # the operator's word: s2 trades on today
    w.risk.on_bar("MSFT", NOW + timedelta(minutes=2))
    assert w.risk.state("s2", NOW).reason == "entries paused"  # outside holds stay
    assert w.risk.states.holds("s2") == {}
    w.risk.clear("feed", now=NOW)
    tomorrow = datetime(2024, 3, 5, 15, tzinfo=UTC)
    assert w.risk.state("s1", tomorrow).level is Level.ACTIVE  # lifts at the next day
    w.risk.on_bar("AAPL", datetime(2024, 3, 4, 20, 45, tzinfo=UTC))  # 15:45 New York
    assert w.risk.state("s3", NOW) == State(Level.HALTED, "halt_at 15:45 exchange time")
    w.marks["AAPL"] = 160.0  # the account: +600 - ... over its target
    w.risk.on_bar("AAPL", datetime(2024, 3, 4, 20, 46, tzinfo=UTC))
    assert w.risk.state(None, NOW).reason.startswith("daily profit")
    assert w.why(sell(1), sid="s9") is not None  # HALTED: only cancels
    assert w.why(CancelOrder("AAPL", "x"), sid="s9") is None


def test_cooldown_after_losing_round_trips_and_duplicates(journal: Journal) -> None:
    w = World(journal, s1={"cooldown_after_losses": 2, "cooldown_min": 10,
                           "duplicate_window_s": 5})  # fmt: skip
    for _ in range(2):
        w.pf.on_fill("s1", "AAPL", 1, 100.0, NOW)
        w.pf.on_fill("s1", "AAPL", -1, 99.0, NOW)
    assert w.risk.state("s1", NOW).reason == "cooldown 10 min after 2 losing round trips"
    assert w.risk.state("s1", NOW + timedelta(minutes=10)).level is Level.ACTIVE
    later = NOW + timedelta(minutes=11)
    assert w.why(buy(1), now=later) is None
    assert w.why(buy(1), now=later + timedelta(seconds=2)) == (
        "duplicate of an intent 2.0 s ago (duplicate_window_s 5)"
    )
    assert w.why(buy(1), now=later + timedelta(seconds=6)) is None


def test_states_come_back_from_the_journal(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    j.begin_run(now=NOW, account="DU1", mode="paper", dry_run=False)
    w = World(j, s1={"daily_loss_limit": 10})
    w.hold("s1", "AAPL", 10)
    w.marks["AAPL"] = 98.0
    w.risk.on_bar("AAPL", NOW)
    w.risk.kill("operator", strategy_id=None, now=NOW)
    w.risk.pause_entries("feed", "entries paused", strategy_id="s2", now=NOW)
    w.risk.clear("feed", strategy_id="s2", now=NOW)
    before = {s: w.risk.state(s, NOW) for s in ("s1", "s2", None)}
    j.close()
    j = Journal(tmp_path / "j.sqlite")
    j.begin_run(now=NOW, account="DU1", mode="paper", dry_run=False)
    again = World(j, s1={"daily_loss_limit": 10})
    again.risk.restore(NOW)
    assert {s: again.risk.state(s, NOW) for s in ("s1", "s2", None)} == before
    assert before[None] == State(Level.HALTED, "operator")
    j.close()


def test_yaml_risk_errors_name_file_line_and_key(tmp_path: Path) -> None:
    from bot.config.errors import ConfigError
    from bot.config.load import load_config

    path = tmp_path / "bot.yaml"
    path.write_text(
        "universe: {symbols: [AAPL]}\n"
        "risk:\n"
        "  halt_at: '25:00'\n"
        "strategies:\n"
        "  - id: s1\n"
        "    class: sma_crossover\n"
        "    symbols: [AAPL]\n"
        "    sizing: {fixed: 1}\n"
        "    risk:\n"
        "      max_position: -1\n"
        "      daily_loss: 5\n"
    )
    with pytest.raises(ConfigError) as exc:
        load_config(path)
    text = str(exc.value)
    assert f"{path}:3: risk.halt_at" in text
    assert f"{path}:10: strategies[0].risk.max_position" in text
    assert f"{path}:11: strategies[0].risk: unknown key 'daily_loss' (did you mean " in text
