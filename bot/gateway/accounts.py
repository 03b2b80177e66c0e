"""Account subscriptions: account updates, positions, account updates multi, account summary,
PnL and PnL single.

Each request gets the current picture and its end marker at once; afterwards the feed pushes
what changed when an execution touched the account (portfolio row, position, account values),
PnL when it moved, and a full refresh every ``REFRESH`` of simulated time (IB's account
updates arrive every three minutes).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from ib_insync import Contract

from bot.gateway import outbound as out
from bot.gateway.peer import Peer
from bot.sim.broker import SimBroker
from bot.sim.broker_events import PortfolioRow

REFRESH = timedelta(minutes=3)

# reqAccountSummary tags that IB computes but the simulated account does not model.
_SUMMARY_ALIASES = {
    "Leverage": "Leverage-S",
    "PreviousDayEquityWithLoanValue": "EquityWithLoanValue",
    "RegTEquity": "EquityWithLoanValue",
    "RegTMargin": "InitMarginReq",
    "SMA": "ExcessLiquidity",
    "LookAheadInitMarginReq": "InitMarginReq",
    "LookAheadMaintMarginReq": "MaintMarginReq",
    "LookAheadAvailableFunds": "AvailableFunds",
    "LookAheadExcessLiquidity": "ExcessLiquidity",
}
_SUMMARY_CONSTANTS = {
    "HighestSeverity": "0",
    "DayTradesRemainingT+1": "-1",
    "DayTradesRemainingT+2": "-1",
    "DayTradesRemainingT+3": "-1",
    "DayTradesRemainingT+4": "-1",
    "LookAheadNextChange": "0",
}
_LEDGER_TAGS = (
    "CashBalance",
    "TotalCashValue",
    "NetLiquidation",
    "RealizedPnL",
    "UnrealizedPnL",
    "StockMarketValue",
)


def value_text(value: str | float, currency: str) -> str:
    """Money as IB writes it ("1000000.00"); ratios and labels as they are."""
    if isinstance(value, str):
        return value
    return f"{value:.2f}" if currency else repr(round(float(value), 6))


def position_contract(c: Contract) -> Contract:
    """Positions report the listing exchange, not SMART (as IB does)."""
    return Contract(
        secType=c.secType,
        conId=c.conId,
        symbol=c.symbol,
        exchange=c.primaryExchange or c.exchange,
        primaryExchange=c.primaryExchange,
        currency=c.currency,
        localSymbol=c.localSymbol,
        tradingClass=c.tradingClass,
    )


@dataclass(slots=True, eq=False)
class SummarySub:
    peer: Peer
    req_id: int
    tags: list[str]


@dataclass(slots=True)
class AccountFeed:
    broker: SimBroker
    tz: ZoneInfo
    updates: dict[Peer, str] = field(default_factory=dict)  # reqAccountUpdates
    positions: list[Peer] = field(default_factory=list)  # reqPositions
    multi: dict[tuple[Peer, int], str] = field(default_factory=dict)
    summary: list[SummarySub] = field(default_factory=list)
    pnl: dict[tuple[Peer, int], tuple[str, tuple[float, ...]]] = field(default_factory=dict)
    pnl_single: dict[tuple[Peer, int], tuple[str, int, tuple[float, ...]]] = field(
        default_factory=dict
    )
    next_refresh: datetime = datetime(1970, 1, 1, tzinfo=UTC)

    # ---- requests -----------------------------------------------------------------------

    def subscribe_updates(self, peer: Peer, account: str, now: datetime) -> None:
        self.updates[peer] = account
        self._send_values(peer, account)
        for row in self.broker.account(account).portfolio():
            self._send_portfolio_row(peer, account, row)
        peer.send(out.account_time(f"{now.astimezone(self.tz):%H:%M}"))
        peer.send(out.account_download_end(account))

    def subscribe_positions(self, peer: Peer, accounts: list[str]) -> None:
        if peer not in self.positions:
            self.positions.append(peer)
        for account in accounts:
            for row in self.broker.account(account).position_rows():
                peer.send(
                    out.position(
                        account, position_contract(row.contract), row.position, row.avg_cost
                    )
                )
        peer.send(out.position_end())

    def subscribe_multi(self, peer: Peer, req_id: int, account: str) -> None:
        self.multi[(peer, req_id)] = account
        self._send_multi(peer, req_id, account)
        peer.send(out.account_update_multi_end(req_id))

    def subscribe_summary(self, peer: Peer, req_id: int, tags: str, accounts: list[str]) -> None:
        sub = SummarySub(peer, req_id, [t.strip() for t in tags.split(",") if t.strip()])
        self.summary = [s for s in self.summary if not (s.peer is peer and s.req_id == req_id)]
        self.summary.append(sub)
        for account in accounts:
            self._send_summary(sub, account)
        peer.send(out.account_summary_end(req_id))

    def subscribe_pnl(self, peer: Peer, req_id: int, account: str) -> None:
        self.pnl[(peer, req_id)] = (account, ())
        self._push_pnl()

    def subscribe_pnl_single(self, peer: Peer, req_id: int, account: str, con_id: int) -> None:
        self.pnl_single[(peer, req_id)] = (account, con_id, ())
        self._push_pnl()

    def cancel(self, peer: Peer, req_id: int) -> None:
        self.multi.pop((peer, req_id), None)
        self.pnl.pop((peer, req_id), None)
        self.pnl_single.pop((peer, req_id), None)
        self.summary = [s for s in self.summary if not (s.peer is peer and s.req_id == req_id)]

    def drop(self, peer: Peer) -> None:
        self.updates.pop(peer, None)
        if peer in self.positions:
            self.positions.remove(peer)
        for d in (self.multi, self.pnl, self.pnl_single):
            for key in [k for k in d if k[0] is peer]:
                del d[key]
        self.summary = [s for s in self.summary if s.peer is not peer]

    # ---- pushes -------------------------------------------------------------------------

    def on_executions(self, touched: dict[str, set[int]], now: datetime) -> None:
        """After fills: the changed rows and all account values to every subscriber."""
        for account, con_ids in touched.items():
            books = self.broker.account(account)
            rows = [r for r in books.portfolio() if r.contract.conId in con_ids]
            for peer, acct in self.updates.items():
                if acct == account:
                    for row in rows:
                        self._send_portfolio_row(peer, account, row)
                    self._send_values(peer, account)
                    peer.send(out.account_time(f"{now.astimezone(self.tz):%H:%M}"))
            positions = [r for r in books.position_rows() if r.contract.conId in con_ids]
            for peer in self.positions:
                for prow in positions:
                    contract = position_contract(prow.contract)
                    peer.send(out.position(account, contract, prow.position, prow.avg_cost))
            for (peer, req_id), acct in self.multi.items():
                if acct == account:
                    self._send_multi(peer, req_id, account)
            for sub in self.summary:
                self._send_summary(sub, account)
        self._push_pnl()

    def on_step(self, now: datetime) -> None:
        self._push_pnl()
        if now < self.next_refresh:
            return
        self.next_refresh = now + REFRESH
        for peer, account in self.updates.items():
            for row in self.broker.account(account).portfolio():
                self._send_portfolio_row(peer, account, row)
            self._send_values(peer, account)
            peer.send(out.account_time(f"{now.astimezone(self.tz):%H:%M}"))

    def _push_pnl(self) -> None:
        for key, (account, last) in self.pnl.items():
            values = tuple(self.broker.account(account).pnl())
            if values != last:
                self.pnl[key] = (account, values)
                key[0].send(out.pnl(key[1], *values))
        for key, (account, con_id, last) in self.pnl_single.items():
            values = tuple(self.broker.account(account).pnl_single(con_id))
            if values != last:
                self.pnl_single[key] = (account, con_id, values)
                key[0].send(out.pnl_single(key[1], *values))

    # ---- messages -----------------------------------------------------------------------

    def _send_values(self, peer: Peer, account: str) -> None:
        for tag, (value, currency) in self.broker.account(account).values().items():
            peer.send(out.account_value(tag, value_text(value, currency), currency, account))

    def _send_portfolio_row(self, peer: Peer, account: str, r: PortfolioRow) -> None:
        peer.send(
            out.portfolio_value(
                position_contract(r.contract),
                r.position,
                r.market_price,
                r.market_value,
                r.avg_cost,
                r.unrealized,
                r.realized,
                account,
            )
        )

    def _send_multi(self, peer: Peer, req_id: int, account: str) -> None:
        for tag, (value, currency) in self.broker.account(account).values().items():
            text = value_text(value, currency)
            peer.send(out.account_update_multi(req_id, account, "", tag, text, currency))

    def _send_summary(self, sub: SummarySub, account: str) -> None:
        values = self.broker.account(account).values()
        for tag in sub.tags:
            if tag.startswith("$LEDGER"):
                for name in _LEDGER_TAGS:
                    if name in values:
                        value, currency = values[name]
                        for cur in (currency, "BASE"):
                            text = value_text(value, cur)
                            sub.peer.send(out.account_summary(sub.req_id, account, name, text, cur))
                continue
            found = values.get(_SUMMARY_ALIASES.get(tag, tag))
            if found is not None:
                text = value_text(*found)
                sub.peer.send(out.account_summary(sub.req_id, account, tag, text, found[1]))
            elif tag in _SUMMARY_CONSTANTS:
                sub.peer.send(
                    out.account_summary(sub.req_id, account, tag, _SUMMARY_CONSTANTS[tag], "")
                )
