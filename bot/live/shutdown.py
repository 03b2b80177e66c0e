"""The daemon's stop, in order: ops and supervisor, ``on_stop`` (and a moment for the market
orders it sent), the feed, the recorder, cancels (``executor.cancel_on_stop``), the summary,
the journal's end of run, the connection, the embedded gateway."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING

from bot.live.status_line import summary_text
from bot.model.events import OrderType
from bot.orders.executor import OrderExecutor
from bot.trading.router import Router

if TYPE_CHECKING:
    from bot.live.daemon import Daemon


async def shut_down(d: Daemon) -> None:
    """Whatever start-up got to is undone; a run refused at start-up sends nothing."""
    if d.signals is not None:
        d.signals.remove()
    if d.ops is not None:
        await d.ops.stop()
    if d.supervisor is not None:
        await d.supervisor.stop()
    connected = d.ib.isConnected()
    if d.router is not None and d.executor is not None and connected and d.ready and \
            d.ready.is_set():  # fmt: skip
        await _stop_strategies(d.router, d.executor, min(2.0, d.opts.stop_timeout / 3))
    if d.feed is not None:
        d.feed.stop()
    if d.recorder is not None:
        d.recorder.close()  # writes what is buffered
    if d.executor is not None and connected and not d.refused:
        d.executor.shutdown()
    if d.router is not None and d.feed is not None and not d.refused:
        if d.ib_pnl is not None:
            d.ib_pnl.check(d.router, d.clock.now())
        d.summary = summary_text(d)
    if d.journal is not None:
        d.journal.end_run(now=d.clock.now(), summary=d.summary)
        d.journal.close()
    if connected:
        await asyncio.sleep(0)  # let the transport take what cancel_all wrote
        d.ib.disconnect()
    if d.gateway is not None:
        with contextlib.suppress(Exception):
            await d.gateway.stop()
    if d.summary and d.opts.print_summary:
        print(d.summary, flush=True)


async def _stop_strategies(router: Router, ex: OrderExecutor, settle_s: float) -> None:
    sent = router.counters.orders
    router.stop_strategies()
    if router.counters.orders > sent:
        # on_stop sent orders (e.g. a flatten): give market orders a moment to fill before
        # cancel_on_stop cancels whatever still works.
        await _settle_market_orders(router, ex, settle_s)


async def _settle_market_orders(router: Router, ex: OrderExecutor, timeout: float) -> None:
    pairs = [(sid, sym) for sid, slot in router.slots.items() for sym in slot.symbols]

    def working() -> bool:
        return any(
            w.spec.order_type is OrderType.MARKET
            for sid, sym in pairs
            for w in ex.working_orders(sid, sym).values()
        )

    deadline = time.monotonic() + timeout
    while working() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
