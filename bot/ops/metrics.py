"""Prometheus metrics, one registry per daemon (tests run several in one process).

Counted on the event path (cheap: a counter increment, a histogram observation):
orders, fills, rejections, bar-to-order latency. Read at scrape time from the daemon's view:
connection, data farms, bar ages, positions, P&L, risk states, event-loop lag.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from bot.live.supervisor import STATE_NAMES
from bot.market_data.streams import StreamKey
from bot.model.events import Bar, FillEvent, OrderIntent, Rejection
from bot.ops.freshness import BarClock
from bot.ops.state import RISK_STATES
from bot.ops.view import DaemonView

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Bar-to-order latency buckets, seconds: the engine's own work is ~100 µs per bar.
LATENCY_BUCKETS = (5e-5, 1e-4, 2e-4, 5e-4, 1e-3, 2e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5)
_REASONS = ("max_position", "max_order_notional", "max_orders_per_minute", "kill switch",
            "order type", "no working order", "cannot modify")  # fmt: skip
_WORD = re.compile(r"[^a-z]+")


def reason_label(reason: str) -> str:
    """A bounded label for a rejection's free-text reason: the risk rule it names, ib (a
    broker's refusal) or other."""
    low = reason.lower()
    for r in _REASONS:
        if low.startswith(r):
            return _WORD.sub("_", r)
    return "ib" if "ib " in low or low.startswith("ib") else "other"


class Metrics:
    """The router's observer (bot/trading/router.py ``Observer``) and the scrape."""

    def __init__(self, bars: BarClock) -> None:
        self.bars = bars
        self.registry = CollectorRegistry()
        r = self.registry
        self.orders = Counter("ibbot_orders", "Orders handed to the executor", ["strategy"],
                              registry=r)  # fmt: skip
        self.fills = Counter("ibbot_fills", "Executions", ["strategy", "symbol"], registry=r)
        self.rejections = Counter("ibbot_rejections", "Intents refused (risk or broker)",
                                  ["strategy", "reason"], registry=r)  # fmt: skip
        self.latency = Histogram("ibbot_bar_to_order_seconds",
                                 "From a live bar reaching the router to its order submitted",
                                 buckets=LATENCY_BUCKETS, registry=r)  # fmt: skip
        self.loop_lag = Gauge("ibbot_event_loop_lag_seconds",
                              "How late the event loop ran a timer, last check", registry=r)
        self._view: DaemonView | None = None
        self._orders: dict[str, Any] = {}

    def attach(self, view: DaemonView) -> None:
        self._view = view
        self.registry.register(_Scrape(view))

    # ---- router observer (synchronous, on the event path) ---------------------------------

    def bar(self, key: StreamKey, bar: Bar, live: bool) -> None:
        self.bars.seen(key)

    def order(self, strategy_id: str, intent: OrderIntent, bar_latency_s: float | None) -> None:
        child = self._orders.get(strategy_id)
        if child is None:  # labels() costs a few µs: once per strategy
            child = self._orders[strategy_id] = self.orders.labels(strategy_id)
        child.inc()
        if bar_latency_s is not None:
            self.latency.observe(bar_latency_s)

    def rejection(self, rejection: Rejection) -> None:
        self.rejections.labels(rejection.strategy_id, reason_label(rejection.reason)).inc()

    def fill(self, strategy_id: str, fill: FillEvent) -> None:
        self.fills.labels(strategy_id, fill.symbol).inc()

    # ---- background ---------------------------------------------------------------------

    async def watch_loop_lag(self, interval: float = 0.5) -> None:
        while True:
            t0 = time.monotonic()
            await asyncio.sleep(interval)
            self.loop_lag.set(max(0.0, time.monotonic() - t0 - interval))

    def render(self) -> bytes:
        return generate_latest(self.registry)


class _Scrape(Collector):
    """Gauges read from the daemon when Prometheus scrapes."""

    def __init__(self, view: DaemonView) -> None:
        self.view = view

    def collect(self) -> Iterator[Metric]:
        v, st = self.view, self.view.state
        c = st.connection()
        conn = GaugeMetricFamily("ibbot_connection_state", "1 for the connection supervisor's "
                                 "state, 0 for the others", labels=["state"])  # fmt: skip
        for s in STATE_NAMES:
            conn.add_metric([s], 1.0 if s == c.name else 0.0)
        yield conn
        yield GaugeMetricFamily("ibbot_connection_state_since_timestamp_seconds",
                                "When the connection entered its state (IB server time, Unix "
                                "seconds)", value=c.since.timestamp())  # fmt: skip
        yield GaugeMetricFamily("ibbot_reconnects", "Reconnects since start", value=c.reconnects)
        farms = GaugeMetricFamily("ibbot_data_farm_ok", "1 unless IB reports the farm broken",
                                  labels=["farm", "state"])  # fmt: skip
        for farm, state in sorted(c.farms.items()):
            farms.add_metric([farm, state], 0.0 if state == "broken" else 1.0)
        yield farms
        age = GaugeMetricFamily("ibbot_bar_age_seconds", "Wall seconds since the last bar",
                                labels=["symbol", "bar_size"])  # fmt: skip
        for f in v.freshness():
            age.add_metric([f.symbol, f.bar_size], f.age_s)
        yield age
        risk = GaugeMetricFamily("ibbot_risk_state", "1 for each scope's risk state",
                                 labels=["scope", "state"])  # fmt: skip
        for scope, rs in sorted(st.risk_states().items()):
            for s in dict.fromkeys((*RISK_STATES, rs.state)):
                risk.add_metric([scope, s], 1.0 if s == rs.state else 0.0)
        yield risk
        yield from _book(v)


def _book(v: DaemonView) -> Iterator[Metric]:
    pos = GaugeMetricFamily("ibbot_position", "Shares held per strategy and symbol",
                            labels=["strategy", "symbol"])  # fmt: skip
    for p in v.positions():
        pos.add_metric([p["strategy"], p["symbol"]], p["quantity"])
    yield pos
    today = GaugeMetricFamily("ibbot_pnl_today", "P&L since the exchange day's start, "
                              "after commissions", labels=["strategy"])  # fmt: skip
    total = GaugeMetricFamily("ibbot_pnl_total", "P&L since the run's start, after commissions",
                              labels=["strategy"])  # fmt: skip
    working = GaugeMetricFamily("ibbot_working_orders", "Orders working at the broker",
                                labels=["strategy"])  # fmt: skip
    counts: dict[str, int] = {}
    for w in v.working_orders():
        counts[w["strategy"]] = counts.get(w["strategy"], 0) + 1
    for s in v.strategies():
        today.add_metric([s["id"]], s["pnl_today"])
        total.add_metric([s["id"]], s["pnl_total"])
        working.add_metric([s["id"]], counts.get(s["id"], 0))
    yield today
    yield total
    yield working
