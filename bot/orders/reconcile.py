"""Reconcile at (re)connect: adopt our open orders, route the executions we missed, settle the
journal's orders the broker has no longer or never had, then compare the strategies'
positions with the account's (bot/portfolio/positions.py).

Orders are matched by orderRef, and by permId for a journal row; never by orderId alone: an
orderId is only unique per client and connection's nextValidId (IB may hand out a stale one).

A journalled order of an earlier run that the broker does not know (not open, not completed,
no execution) was journalled but never sent (a crash between the two: write-ahead,
bot/journal/store.py): it is marked ``never_sent`` and not re-sent; its strategy decides again from
its position (a TargetPosition sends what is still missing).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from datetime import datetime

from bot.client.ib import Fill, OrderStatus, Trade
from bot.journal.schema import NEVER_SENT, UNOWNED
from bot.journal.store import Journal
from bot.model.events import PlaceOrder
from bot.orders.build import parse_order_ref, spec_from_order
from bot.orders.placer import OrderPlacer
from bot.orders.records import OrderRecord
from bot.portfolio.positions import (
    Disagreement,
    PositionMismatchError,
    disagreements,
    mismatch_message,
)

log = logging.getLogger(__name__)

_EPS = 1e-9


class Reconciler:
    """The broker's view of our orders, executions and positions, brought into the books."""

    def __init__(
        self, placer: OrderPlacer, account: str, journal: Journal, now: Callable[[], datetime]
    ) -> None:
        self.placer = placer
        self.broker = placer.broker
        self.tracker = placer.tracker
        self.records = placer.records
        self.positions = placer.tracker.positions
        self.account = account
        self.journal = journal
        self._now = now
        self.unowned: dict[str, float] = journal.reads.unowned_positions()

    async def reconcile(self, *, verify: Collection[str] = (), reset: bool = False) -> None:
        """Open trades are bound first, synchronously, so a live fill that arrives while the
        executions request is in flight is already followed; every execution is routed
        at most once whichever path sees it first (dedupe by execId, journal included).

        ``verify`` (at start-up): the symbols the bot trades. On each, the positions restored
        from the journal (plus what a reset recorded as held outside the strategies) must add
        up to the account's position at the broker; otherwise PositionMismatchError, and
        nothing has been sent. With ``reset`` the disagreeing symbols' strategies start flat
        instead and the account's figure is recorded as held outside them (journalled).
        Other symbols only log a mismatch.
        """
        now = self._now()
        self.tracker.unbind_done()
        open_refs = self._adopt_open_trades()
        routed = 0
        fills = await self.broker.executions()
        for fill in fills:
            routed += self.tracker.route_execution(fill, self.placer.prefix)
        final = {t.order.orderRef: t for t in self.broker.trades() if t.order.orderRef}
        self._settle_vanished(open_refs, final)
        never = self._settle_journalled(final, fills, now)
        msg = f"adopted {len(open_refs)} open orders, routed {routed} missed executions"
        if never:
            msg += f", {never} journalled orders never sent"
        log.info("reconcile: %s", msg)
        self.journal.record_event("reconcile", msg, now)
        self._verify_positions(set(verify), reset, now)

    # ---- positions ----------------------------------------------------------------------

    def _verify_positions(self, verify: set[str], reset: bool, now: datetime) -> None:
        symbols = set(self.placer.contracts)
        if verify:  # start-up: what the bot trades, and whatever its strategies hold
            symbols &= verify | {sym for (_, sym), _ in self.positions.items()}
        bad = disagreements(self.positions, self.unowned, self._account_positions(), symbols)
        refused = [d for d in bad if d.symbol in verify]
        for d in bad:
            if d.symbol not in verify:
                log.warning("position mismatch %s", d.describe())
                self.journal.record_event("position-mismatch", d.describe(), now)
        if not refused:
            return
        text = mismatch_message(self.account, self.journal.path, refused)
        if not reset:
            self.journal.record_event("position-mismatch", text, now)
            self.journal.flush()
            raise PositionMismatchError(text)
        self._reset_positions(refused, now)

    def _account_positions(self) -> dict[str, float]:
        """The account's position per registered symbol, as the broker reports it."""
        by_con = {c.conId: sym for sym, (c, _) in self.placer.contracts.items() if c.conId}
        out: dict[str, float] = {}
        for p in self.broker.positions():
            sym = by_con.get(p.contract.conId)
            if sym is not None and (not self.account or p.account == self.account):
                out[sym] = out.get(sym, 0.0) + p.position
        return out

    def _reset_positions(self, found: list[Disagreement], now: datetime) -> None:
        """--reset-positions: the strategies start flat on these symbols; the account's
        position there becomes 'held outside the strategies' (expected at the next start)."""
        for d in found:
            reason = f"--reset-positions: {d.describe()}"
            for sid, qty in d.strategies.items():
                self.positions.apply(sid, d.symbol, -qty)
                self.journal.record_adjustment(sid, d.symbol, -qty, reason, now)
            if abs(d.broker - d.unowned) > _EPS:
                self.journal.record_adjustment(UNOWNED, d.symbol, d.broker - d.unowned,
                                               reason, now)  # fmt: skip
            if abs(d.broker) > _EPS:
                self.unowned[d.symbol] = d.broker
            else:
                self.unowned.pop(d.symbol, None)
            log.warning("positions reset: %s; the strategies start flat on %s",
                        d.describe(), d.symbol)  # fmt: skip
            self.journal.record_event("positions-reset", reason, now)
        self.journal.flush()

    # ---- orders -------------------------------------------------------------------------

    def _adopt_open_trades(self) -> set[str]:
        """Our orders the broker lists as open, bound to records; their orderRefs."""
        open_refs: set[str] = set()
        filled = self.journal.reads.filled_by_ref()
        for trade in self.broker.open_trades():
            parsed = parse_order_ref(trade.order.orderRef, self.placer.prefix)
            if parsed is None or trade.order.orderId <= 0:
                continue
            rec = self.records.by_ref.get(trade.order.orderRef)
            if rec is None:
                rec = self._adopt(trade, parsed.strategy_id, parsed.symbol, parsed.tag, parsed.seq)
                if rec is None:
                    continue
                rec.filled = filled.get(rec.ref, 0.0)
            old_id = rec.order_id
            rec.order = trade.order
            self.records.reindex(rec, old_id)
            rec.sent = True
            rec.status = trade.orderStatus.status or rec.status
            rec.broker_filled = max(rec.broker_filled, trade.orderStatus.filled)
            self.tracker.bind(rec, trade)
            open_refs.add(rec.ref)
            key = (parsed.strategy_id, parsed.symbol)
            self.placer.seq[key] = max(self.placer.seq.get(key, 0), parsed.seq)
        return open_refs

    def _adopt(self, trade: Trade, sid: str, symbol: str, tag: str, seq: int) -> OrderRecord | None:
        try:
            spec = spec_from_order(trade.order)
        except ValueError:
            o = trade.order
            log.warning("cannot adopt %s: order type %s", o.orderRef, o.orderType)
            return None
        contract = self.placer.contracts.get(symbol, (trade.contract, 0.0))[0]
        intent = PlaceOrder(symbol, spec, tag, "adopted at reconcile")
        ref = trade.order.orderRef
        rec = OrderRecord(sid, symbol, tag, seq, ref, contract, trade.order, spec, intent)
        parent = self.records.by_id.get(trade.order.parentId) if trade.order.parentId else None
        if parent is not None:
            rec.parent = parent
            parent.children.append(rec)
        self.records.add(rec)
        self.placer.journal_order(rec, "Adopt")
        return rec

    def _settle_vanished(self, open_refs: set[str], final: dict[str, Trade]) -> None:
        """Sent orders the broker no longer lists as open ended while we were not looking;
        ``final``: the broker's trades (open and completed) by orderRef."""
        for rec in self.records.all_working():
            if not rec.sent or rec.ref in open_refs:
                continue
            trade = final.get(rec.ref)
            status = trade.orderStatus.status if trade else ""
            if status not in OrderStatus.DoneStates:
                status = OrderStatus.Cancelled
            # Executions were just routed: whatever filled is in rec.filled now.
            rec.broker_filled = rec.filled
            self.tracker.set_status(rec, status, "ended while disconnected")

    def _settle_journalled(self, final: dict[str, Trade], fills: list[Fill], now: datetime) -> int:
        """Journal rows of earlier runs still open there (this run's have records): the
        broker's end state if it knows the order (by orderRef or permId), else ``never_sent``
        (module doc). How many were never sent."""
        by_perm = {t.order.permId: t for t in final.values() if t.order.permId}
        exec_perms = {f.execution.permId for f in fills if f.execution.permId}
        executed = _executed(fills)
        never = 0
        for ref, order_id, perm_id, sid, symbol in self.journal.reads.unfinished_orders():
            if ref in self.records.by_ref:
                continue
            trade = final.get(ref) or by_perm.get(perm_id)
            if trade is not None or ref in executed or perm_id in exec_perms:
                if trade is not None and trade.orderStatus.status in OrderStatus.DoneStates:
                    qty, notional = executed.get(ref, (0.0, 0.0))
                    self.journal.record_status(
                        ref=ref, order_id=order_id, perm_id=trade.order.permId,
                        status=trade.orderStatus.status, filled=qty, remaining=0.0,
                        avg_fill_price=notional / qty if qty else 0.0, now=now,
                        message="ended while the bot was down",
                    )  # fmt: skip
                continue
            never += 1
            log.warning("order %s (strategy %s, %s) was journalled but never reached the "
                        "broker: marked %s, not re-sent", ref, sid, symbol, NEVER_SENT)  # fmt: skip
            self.journal.record_status(
                ref=ref, order_id=order_id, perm_id=0, status=NEVER_SENT, filled=0.0,
                remaining=0.0, avg_fill_price=0.0, now=now,
                message="journalled before a crash, unknown to the broker: not re-sent",
            )  # fmt: skip
        return never


def _executed(fills: list[Fill]) -> dict[str, tuple[float, float]]:
    """Shares and notional executed per orderRef (a completed order's own status, from
    reqCompletedOrders, carries no filled quantity or price)."""
    out: dict[str, tuple[float, float]] = {}
    for f in fills:
        ex = f.execution
        q, n = out.get(ex.orderRef, (0.0, 0.0))
        out[ex.orderRef] = (q + ex.shares, n + ex.shares * ex.price)
    return out
