"""Forgetting finished orders, so a long run's memory stays flat.

A record is finished once its order reached an end state (Filled, Cancelled, Inactive,
ApiCancelled) and every execution the broker reported for it was routed and journalled
(bot/orders/records.py ``finished``). The tracker collects such records; every ``BATCH`` of them
the pruner drops the complete ones from the executor's records, from the tracker's bindings and
from the venue (``BrokerPort.forget``: ib_insync's ``wrapper.trades``, ``permId2Trade`` and
``fills``; the Sim adapter's maps). Complete: every fill also has its commission report. A
record still waiting for one is kept for ``PATIENCE`` more batches, then forgotten anyway.

What may still arrive for a forgotten order is caught, not lost: the venue hands an execution
or commission report of an order it no longer follows to ``BrokerPort.unbound_fill_event`` /
``unbound_commission_event``; the execution is routed by its orderRef and the report booked to
the strategy that owned the execution (bot/orders/seen_executions.py), each exactly once, as ever,
deduplicated by execId. A status update for a forgotten order has nothing left to change (it
had ended) and is dropped by the venue.

A pass costs one walk over the batch and the venue's maps (hundreds of µs), so it never runs
in the path from a bar to its order: when the executor has acted on an intent and a batch is
waiting, ``soon`` schedules the pass on the event loop's next turn, after the order is on the
socket (never inside a broker event either). Between batches the hot path only adds a record
to a dict.
"""

from __future__ import annotations

import asyncio
import logging

from bot.client.ib import CommissionReport, Fill, Trade
from bot.orders.records import OrderRecord, OrderRecords
from bot.orders.tracker import OrderTracker
from bot.ports.venue import BrokerPort

log = logging.getLogger(__name__)

#: Finished records collected before a pruning pass.
BATCH = 200
#: Passes a finished record waits for a missing commission report before it goes anyway.
PATIENCE = 3


class OrderPruner:
    """Drops finished records and their Trades, here and at the venue, in batches."""

    def __init__(
        self, tracker: OrderTracker, broker: BrokerPort, prefix: str, *, batch: int = BATCH
    ) -> None:
        self.tracker = tracker
        self.records: OrderRecords = tracker.records
        self.broker = broker
        self.prefix = prefix
        self.batch = batch
        self._waits: dict[int, int] = {}  # id(record) -> passes it has waited
        self.pruned = 0
        self._scheduled = False
        broker.unbound_fill_event += self._on_unbound_fill
        broker.unbound_commission_event += self._on_unbound_commission

    def soon(self) -> None:
        """If a batch of finished records is waiting, prune on the loop's next turn (module
        doc); with no loop running (tools, synchronous tests), now."""
        waiting = len(self.tracker.finished)
        if waiting < self.batch:
            return
        if self._scheduled:
            # A whole batch more and still no turn of the loop (a backtest's replay never
            # yields to it): memory comes first.
            if waiting >= 2 * self.batch:
                self.prune()
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            self.prune()
            return
        self._scheduled = True
        loop.call_soon(self._scheduled_pass)

    def _scheduled_pass(self) -> None:
        self._scheduled = False
        self.prune()

    def prune(self) -> int:
        finished = self.tracker.finished
        gone = [rec for rec in list(finished.values()) if self._ready(rec)]
        trades: list[Trade] = []
        for rec in gone:
            del finished[id(rec)]
            self._waits.pop(id(rec), None)
            self.records.forget(rec)
            if rec.trade is not None:
                self.tracker.unbind(rec.trade)
                trades.append(rec.trade)
        if trades:
            self.broker.forget(trades)
        self.pruned += len(gone)
        log.debug("pruned %d finished orders; %d wait", len(gone), len(finished))
        return len(gone)

    def _ready(self, rec: OrderRecord) -> bool:
        """Finished, with its bracket children (they point at it) and, unless it has waited
        long enough, every commission report."""
        if not rec.done:
            return False
        if any(id(child) in self.tracker.finished or not child.done for child in rec.children):
            return False  # the children go first: a parent outlives them
        if _complete(rec.trade):
            return True
        waits = self._waits.get(id(rec), 0) + 1
        self._waits[id(rec)] = waits
        return waits > PATIENCE

    # ---- reports for orders the venue no longer follows ---------------------------------

    def _on_unbound_fill(self, fill: Fill) -> None:
        if self.tracker.route_execution(fill, self.prefix):
            log.info("late execution %s of %s routed", fill.execution.execId,
                     fill.execution.orderRef)  # fmt: skip

    def _on_unbound_commission(self, report: CommissionReport) -> None:
        self.tracker.commission(report)


def _complete(trade: Trade | None) -> bool:
    """Every fill of the trade has its commission report (a trade never sent has none)."""
    if trade is None:
        return True
    return all(f.commissionReport.execId == f.execution.execId for f in trade.fills)
