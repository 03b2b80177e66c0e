"""Handlers of order and account requests: placeOrder, cancels, open/completed orders,
executions, ids, positions, account updates (single and multi), account summary and PnL."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.gateway import inbound as req
from bot.gateway import outbound as out
from bot.gateway.accounts import position_contract
from bot.gateway.data_requests import resolve

if TYPE_CHECKING:
    from bot.gateway.session import Session


def _account(s: Session, req_id: int, account: str) -> str | None:
    """The account a request names ("" or "All": the default one); error 321 if not ours."""
    if account in ("", "All"):
        return s.account
    if account in s.accounts:
        return account
    s.error(
        req_id,
        321,
        f"Error validating request.-'bN' : cause - Account {account!r} is "
        "not managed by this login.",
    )
    return None


def place_order(s: Session, r: req.PlaceOrder) -> None:
    inst = resolve(s, r.order_id, r.contract)
    if inst is not None:
        s.gw.desk.place(s, s.account, r.order_id, r.contract, r.order, inst, s.gw.clock.now())


def cancel_order(s: Session, r: req.CancelOrder) -> None:
    s.gw.desk.cancel(s, s.account, r.order_id, s.gw.clock.now())


def global_cancel(s: Session, r: req.ReqGlobalCancel) -> None:
    s.gw.desk.global_cancel(s.accounts, s.gw.clock.now())


def open_orders(s: Session, r: req.ReqOpenOrders) -> None:
    s.gw.desk.send_open_orders(s, s.accounts, s.client_id)


def all_open_orders(s: Session, r: req.ReqAllOpenOrders) -> None:
    s.gw.desk.send_open_orders(s, s.accounts, None)


def completed_orders(s: Session, r: req.ReqCompletedOrders) -> None:
    s.gw.desk.send_completed_orders(s, s.accounts)


def executions(s: Session, r: req.ReqExecutions) -> None:
    s.gw.desk.send_executions(s, s.accounts, r.req_id, r.filter)


def ids(s: Session, r: req.ReqIds) -> None:
    s.send(out.next_valid_id(s.gw.next_valid_id(s.account, s.client_id)))


def managed_accounts(s: Session, r: req.ReqManagedAccts) -> None:
    s.send(out.managed_accounts(s.accounts))


def positions(s: Session, r: req.ReqPositions) -> None:
    s.gw.feed.subscribe_positions(s, s.accounts)


def cancel_positions(s: Session, r: req.CancelPositions) -> None:
    if s in s.gw.feed.positions:
        s.gw.feed.positions.remove(s)


def account_updates(s: Session, r: req.ReqAccountUpdates) -> None:
    if not r.subscribe:
        s.gw.feed.updates.pop(s, None)
        return
    account = _account(s, -1, r.account)
    if account is not None:
        s.gw.feed.subscribe_updates(s, account, s.gw.clock.now())


def account_updates_multi(s: Session, r: req.ReqAccountUpdatesMulti) -> None:
    account = _account(s, r.req_id, r.account)
    if account is not None:
        s.gw.feed.subscribe_multi(s, r.req_id, account)


def positions_multi(s: Session, r: req.ReqPositionsMulti) -> None:
    account = _account(s, r.req_id, r.account)
    if account is None:
        return
    for row in s.gw.broker.account(account).position_rows():
        s.send(
            out.position_multi(
                r.req_id,
                account,
                r.model_code,
                position_contract(row.contract),
                row.position,
                row.avg_cost,
            )
        )
    s.send(out.position_multi_end(r.req_id))


def account_summary(s: Session, r: req.ReqAccountSummary) -> None:
    s.gw.feed.subscribe_summary(s, r.req_id, r.tags, s.accounts)


def pnl(s: Session, r: req.ReqPnL) -> None:
    account = _account(s, r.req_id, r.account)
    if account is not None:
        s.gw.feed.subscribe_pnl(s, r.req_id, account)


def pnl_single(s: Session, r: req.ReqPnLSingle) -> None:
    account = _account(s, r.req_id, r.account)
    if account is not None:
        s.gw.feed.subscribe_pnl_single(s, r.req_id, account, r.con_id)


def cancel_account_request(s: Session, r: Any) -> None:
    s.gw.feed.cancel(s, r.req_id)


HANDLERS: dict[type, Callable[[Session, Any], None]] = {
    req.PlaceOrder: place_order,
    req.CancelOrder: cancel_order,
    req.ReqGlobalCancel: global_cancel,
    req.ReqOpenOrders: open_orders,
    req.ReqAllOpenOrders: all_open_orders,
    req.ReqAutoOpenOrders: lambda s, r: None,
    req.ReqCompletedOrders: completed_orders,
    req.ReqExecutions: executions,
    req.ReqIds: ids,
    req.ReqManagedAccts: managed_accounts,
    req.ReqPositions: positions,
    req.CancelPositions: cancel_positions,
    req.ReqAccountUpdates: account_updates,
    req.ReqAccountUpdatesMulti: account_updates_multi,
    req.CancelAccountUpdatesMulti: cancel_account_request,
    req.ReqPositionsMulti: positions_multi,
    req.CancelPositionsMulti: lambda s, r: None,
    req.ReqAccountSummary: account_summary,
    req.CancelAccountSummary: cancel_account_request,
    req.ReqPnL: pnl,
    req.CancelPnL: cancel_account_request,
    req.ReqPnLSingle: pnl_single,
    req.CancelPnLSingle: cancel_account_request,
}
