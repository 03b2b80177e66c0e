"""One simulated IB account: cash, positions, PnL and the account values IB reports.

Accounting follows IB: a position's average cost includes the commissions of the trades that
opened it (a buy of 100 @ 10.00 paying 1.00 has avgCost 10.01; a short sale's avgCost is its
net proceeds per share), and a closing trade realizes (price - avgCost) x quantity minus its own
commission. Hence, at every step and exactly up to float rounding:

    NetLiquidation = cash + sum(position x mark)
                   = initial cash + realized PnL + unrealized PnL

Margin (a simplified Reg-T margin account): initial = maintenance margin = ``margin_rate``
(default 25%) of the gross position value; AvailableFunds = ExcessLiquidity =
EquityWithLoanValue - InitMarginReq; BuyingPower = AvailableFunds / margin_rate (4x at 25%).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ib_insync import Contract

from bot.sim.broker_events import PnL, PnLSingle, PortfolioRow, PositionRow

AccountValues = dict[str, tuple[str | float, str]]


@dataclass(slots=True)
class Position:
    """Mutable: one account's holding of one contract (kept at 0 until the day rolls)."""

    contract: Contract
    qty: float = 0.0
    avg_cost: float = 0.0
    realized: float = 0.0  # since the account opened
    day_start_value: float = 0.0  # qty x mark when the day started
    day_cash_flow: float = 0.0  # cash from today's trades on it, commissions included


@dataclass(frozen=True, slots=True)
class FillResult:
    """What one execution did to the account; ``realized`` None = it only opened."""

    realized: float | None
    position: float
    avg_cost: float


class Account:
    """Cash and positions of one account, valued at the shared last-trade marks."""

    def __init__(
        self,
        name: str,
        cash: float,
        marks: Mapping[int, float],
        margin_rate: float = 0.25,
        currency: str = "USD",
    ) -> None:
        self.name = name
        self.initial_cash = cash
        self.cash = cash
        self.currency = currency
        self.margin_rate = margin_rate
        self.commissions = 0.0
        self.positions: dict[int, Position] = {}
        self._dropped_realized = 0.0  # realized PnL of positions closed on earlier days
        self._marks = marks  # the broker's con_id -> last trade price, shared by all accounts

    # --- trading -----------------------------------------------------------------------
    def apply_fill(
        self, contract: Contract, side: int, qty: float, price: float, commission: float
    ) -> FillResult:
        """Book one execution: cash, position, average cost and realized PnL."""
        pos = self.positions.get(contract.conId)
        if pos is None:
            pos = self.positions[contract.conId] = Position(contract)
        signed = side * qty
        self.cash -= signed * price + commission
        self.commissions += commission
        pos.day_cash_flow -= signed * price + commission
        closing = min(qty, abs(pos.qty)) if pos.qty * signed < 0 else 0.0
        realized = None
        if closing:
            # The closing part bears its share of this execution's commission.
            share = commission * closing / qty
            realized = closing * (price - pos.avg_cost) * (1 if pos.qty > 0 else -1) - share
            pos.realized += realized
            pos.qty += side * closing
            if pos.qty == 0:
                pos.avg_cost = 0.0
        opening = qty - closing
        if opening:
            fee = commission * opening / qty
            cost = pos.qty * pos.avg_cost + side * opening * price + fee
            pos.qty += side * opening
            pos.avg_cost = cost / pos.qty
        return FillResult(realized, pos.qty, pos.avg_cost)

    def start_day(self) -> None:
        """Roll the daily PnL baseline; closed positions disappear, as at IB overnight."""
        for con_id in [c for c, p in self.positions.items() if p.qty == 0]:
            self._dropped_realized += self.positions.pop(con_id).realized
        for con_id, pos in self.positions.items():
            pos.day_start_value = pos.qty * self.mark(con_id, pos.avg_cost)
            pos.day_cash_flow = 0.0

    # --- valuation -----------------------------------------------------------------------
    def mark(self, con_id: int, fallback: float) -> float:
        return self._marks.get(con_id, fallback)

    def _value(self, con_id: int, pos: Position) -> float:
        return pos.qty * self.mark(con_id, pos.avg_cost)

    def market_value(self) -> float:
        return sum(self._value(c, p) for c, p in self.positions.items())

    def gross_position_value(self, extra: Mapping[int, float] | None = None) -> float:
        """Sum of |position x mark|; ``extra`` adds hypothetical quantities per con_id."""
        qty = {c: p.qty for c, p in self.positions.items()}
        for con_id, delta in (extra or {}).items():
            qty[con_id] = qty.get(con_id, 0.0) + delta
        return sum(abs(q * self._marks.get(c, 0.0)) for c, q in qty.items())

    def net_liquidation(self) -> float:
        return self.cash + self.market_value()

    def unrealized(self) -> float:
        return sum(self._value(c, p) - p.qty * p.avg_cost for c, p in self.positions.items())

    def realized(self) -> float:
        return self._dropped_realized + sum(p.realized for p in self.positions.values())

    def init_margin(self) -> float:
        return self.margin_rate * self.gross_position_value()

    def pnl(self) -> PnL:
        daily = sum(self._daily(c, p) for c, p in self.positions.items())
        return PnL(daily, self.unrealized(), self.realized())

    def _daily(self, con_id: int, pos: Position) -> float:
        return self._value(con_id, pos) - pos.day_start_value + pos.day_cash_flow

    def pnl_single(self, con_id: int) -> PnLSingle:
        pos = self.positions.get(con_id)
        if pos is None:
            return PnLSingle(0.0, 0.0, 0.0, 0.0, 0.0)
        value = self._value(con_id, pos)
        return PnLSingle(
            pos.qty, self._daily(con_id, pos), value - pos.qty * pos.avg_cost, pos.realized, value
        )

    def position_rows(self) -> list[PositionRow]:
        return [PositionRow(p.contract, p.qty, p.avg_cost) for p in self.positions.values()]

    def portfolio(self) -> list[PortfolioRow]:
        rows = []
        for con_id, pos in self.positions.items():
            mark = self.mark(con_id, pos.avg_cost)
            value = pos.qty * mark
            rows.append(
                PortfolioRow(
                    contract=pos.contract,
                    position=pos.qty,
                    market_price=mark,
                    market_value=value,
                    avg_cost=pos.avg_cost,
                    unrealized=value - pos.qty * pos.avg_cost,
                    realized=pos.realized,
                )
            )
        return rows

    def values(self) -> AccountValues:
        """The account values IB streams (reqAccountUpdates / reqAccountSummary tags)."""
        nlv = self.net_liquidation()
        gross = self.gross_position_value()
        margin = self.margin_rate * gross
        excess = nlv - margin
        stock = sum(
            self._value(c, p) for c, p in self.positions.items() if p.contract.secType == "STK"
        )
        cur = self.currency
        money = {
            "NetLiquidation": nlv,
            "TotalCashValue": self.cash,
            "SettledCash": self.cash,
            "CashBalance": self.cash,
            "AccruedCash": 0.0,
            "GrossPositionValue": gross,
            "StockMarketValue": stock,
            "EquityWithLoanValue": nlv,
            "InitMarginReq": margin,
            "MaintMarginReq": margin,
            "FullInitMarginReq": margin,
            "FullMaintMarginReq": margin,
            "AvailableFunds": excess,
            "FullAvailableFunds": excess,
            "ExcessLiquidity": excess,
            "FullExcessLiquidity": excess,
            "BuyingPower": excess / self.margin_rate if self.margin_rate > 0 else excess,
            "RealizedPnL": self.realized(),
            "UnrealizedPnL": self.unrealized(),
        }
        out: AccountValues = {k: (round(v, 2), cur) for k, v in money.items()}
        out["Cushion"] = (round(excess / nlv, 6) if nlv else 0.0, "")
        out["Leverage-S"] = (round(gross / nlv, 6) if nlv else 0.0, "")
        out["DayTradesRemaining"] = ("-1", "")
        out["AccountType"] = ("INDIVIDUAL", "")
        out["AccountCode"] = (self.name, "")
        out["Currency"] = (cur, cur)
        return out
