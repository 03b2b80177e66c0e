"""Market data subscriptions: reqMktData, tick-by-tick, real-time bars, keepUpToDate bars.

Ticks reach every subscription of their contract as the driver steps the market; bars are
produced at the end of each step for the window the step covered. Per contract the feed keeps
the last quote and today's statistics it has announced, so each tick only sends what changed
(as IB does): bid/ask with their sizes, the trade with its size, volume, new highs and lows.
"""

from __future__ import annotations

import logging
import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from ib_insync import BarData, ContractDetails, ScannerSubscription

from bot.gateway import outbound as out
from bot.gateway.peer import Peer
from bot.gateway.scanner import run_scan
from bot.gateway.timefmt import bar_date, epoch
from bot.sim.bars import DAY, parse_bar_size
from bot.sim.instruments import Instrument
from bot.sim.market import Market
from bot.sim.types import SimTick

log = logging.getLogger(__name__)

TBT_TYPES = {"Last": 1, "AllLast": 2, "BidAsk": 3, "MidPoint": 4}
RT_BAR_SECONDS = 5
HIST_UPDATE_EVERY = timedelta(seconds=5)  # IB refreshes a keepUpToDate bar about this often
SCAN_EVERY = timedelta(seconds=30)  # IB refreshes a scanner subscription about this often
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass(slots=True, eq=False)
class ContractState:
    """What the feed last announced for one contract (shared by its subscriptions)."""

    inst: Instrument
    day_end: datetime  # when today's statistics roll over
    bid: float = math.nan
    ask: float = math.nan
    bid_size: float = math.nan
    ask_size: float = math.nan
    high: float = math.nan
    low: float = math.nan
    volume: float = 0.0


@dataclass(slots=True, eq=False)
class TickSub:
    peer: Peer
    req_id: int
    con_id: int
    kind: int  # 0 = reqMktData, else the tick-by-tick type (1..4)


@dataclass(slots=True, eq=False)
class BarSub:
    peer: Peer
    req_id: int
    inst: Instrument
    what: str
    use_rth: bool
    # keepUpToDate only:
    bar_size: str = ""
    format_date: int = 1
    last_date: date | datetime | None = None
    last_sent: tuple[float, ...] = ()
    next_update: datetime = _EPOCH


@dataclass(slots=True, eq=False)
class ScanSub:
    peer: Peer
    req_id: int
    subscription: ScannerSubscription
    next_update: datetime = _EPOCH


@dataclass(slots=True)
class Streams:
    market: Market
    tz: ZoneInfo
    ticks: dict[int, list[TickSub]] = field(default_factory=lambda: defaultdict(list))
    states: dict[int, ContractState] = field(default_factory=dict)
    rt_bars: list[BarSub] = field(default_factory=list)
    hist: list[BarSub] = field(default_factory=list)
    scans: list[ScanSub] = field(default_factory=list)

    # ---- subscribe / cancel -----------------------------------------------------------

    def add_mkt_data(
        self,
        peer: Peer,
        req_id: int,
        inst: Instrument,
        now: datetime,
        *,
        snapshot: bool,
        data_type: int,
    ) -> None:
        """Announce the current quote and today's statistics; stream unless a snapshot."""
        peer.send(out.tick_req_params(req_id, inst.min_tick, "9c0001", 3))
        peer.send(out.market_data_type(req_id, data_type))
        q = self.market.quote(inst.con_id, now)
        for tick_type, price, size in (
            (1, q.bid, q.bid_size),
            (2, q.ask, q.ask_size),
            (4, q.last, q.last_size),
        ):
            if not math.isnan(price):
                peer.send(out.tick_price(req_id, tick_type, price, size))
        if not math.isnan(q.volume):
            peer.send(out.tick_size(req_id, 8, q.volume))
        for tick_type, price in ((6, q.high), (7, q.low), (9, q.prev_close), (14, q.open)):
            if not math.isnan(price):
                peer.send(out.tick_price(req_id, tick_type, price, 0))
        if snapshot:
            peer.send(out.tick_snapshot_end(req_id))
            return
        self._state(inst, now)
        self.ticks[inst.con_id].append(TickSub(peer, req_id, inst.con_id, 0))

    def add_tick_by_tick(
        self, peer: Peer, req_id: int, inst: Instrument, kind: int, now: datetime
    ) -> None:
        """Quote subscriptions start with the current quote, trade ones with the next trade."""
        st = self._state(inst, now)
        if not math.isnan(st.bid + st.ask):
            if kind == 3:
                peer.send(
                    out.tick_by_tick_bid_ask(
                        req_id, epoch(now), st.bid, st.ask, st.bid_size, st.ask_size
                    )
                )
            elif kind == 4:
                peer.send(out.tick_by_tick_mid(req_id, epoch(now), (st.bid + st.ask) / 2))
        self.ticks[inst.con_id].append(TickSub(peer, req_id, inst.con_id, kind))

    def add_real_time_bars(
        self, peer: Peer, req_id: int, inst: Instrument, what: str, use_rth: bool
    ) -> None:
        self.rt_bars.append(BarSub(peer, req_id, inst, what, use_rth))

    def add_keep_up_to_date(self, sub: BarSub, last: BarData | None, now: datetime) -> None:
        if last is not None:
            sub.last_date = last.date
            sub.last_sent = _bar_key(last)
        sub.next_update = now + HIST_UPDATE_EVERY
        self.hist.append(sub)

    def cancel_ticks(self, peer: Peer, req_id: int) -> bool:
        for con_id, subs in self.ticks.items():
            for s in subs:
                if s.peer is peer and s.req_id == req_id:
                    subs.remove(s)
                    if not subs:
                        del self.ticks[con_id]
                    return True
        return False

    def cancel_bars(self, peer: Peer, req_id: int) -> bool:
        for subs in (self.rt_bars, self.hist):
            for s in subs:
                if s.peer is peer and s.req_id == req_id:
                    subs.remove(s)
                    return True
        return False

    def add_scan(self, sub: ScanSub, now: datetime) -> None:
        """Answer a scanner subscription now, then every ``SCAN_EVERY`` of simulated time."""
        self._scan(sub, now)
        self.scans.append(sub)

    def cancel_scan(self, peer: Peer, req_id: int) -> bool:
        n = len(self.scans)
        self.scans = [s for s in self.scans if not (s.peer is peer and s.req_id == req_id)]
        return len(self.scans) < n

    def clear(self) -> None:
        """Every client's market data ends (1101: data lost; clients resubscribe)."""
        self.ticks.clear()
        self.rt_bars.clear()
        self.hist.clear()
        self.scans.clear()

    def drop(self, peer: Peer) -> None:
        for con_id in list(self.ticks):
            self.ticks[con_id] = [s for s in self.ticks[con_id] if s.peer is not peer]
            if not self.ticks[con_id]:
                del self.ticks[con_id]
        self.rt_bars = [s for s in self.rt_bars if s.peer is not peer]
        self.hist = [s for s in self.hist if s.peer is not peer]
        self.scans = [s for s in self.scans if s.peer is not peer]

    def mkt_data_subs(self, peer: Peer) -> list[TickSub]:
        return [s for subs in self.ticks.values() for s in subs if s.peer is peer and not s.kind]

    def _state(self, inst: Instrument, now: datetime) -> ContractState:
        """The contract's announced state, first read from the market's quote at ``now``."""
        st = self.states.get(inst.con_id)
        if st is None:
            q = self.market.quote(inst.con_id, now)
            # the quote's statistics are of the day of its latest trade, maybe not today's
            day_of = q.time if not math.isnan(q.last) else now
            st = self.states[inst.con_id] = ContractState(inst, _day_end(inst, day_of))
            st.bid, st.ask, st.bid_size, st.ask_size = q.bid, q.ask, q.bid_size, q.ask_size
            st.high, st.low = q.high, q.low
            st.volume = 0.0 if math.isnan(q.volume) else q.volume
        return st

    # ---- ticks --------------------------------------------------------------------------

    def on_tick(self, tick: SimTick) -> None:
        subs = self.ticks.get(tick.con_id)
        if not subs:
            return
        st = self.states[tick.con_id]
        if tick.time >= st.day_end:  # the first tick of a new trading day
            st.day_end = _day_end(st.inst, tick.time)
            st.volume, st.high, st.low = 0.0, math.nan, math.nan
        quote_changed = (tick.bid, tick.ask, tick.bid_size, tick.ask_size) != (
            st.bid,
            st.ask,
            st.bid_size,
            st.ask_size,
        )
        mid_changed = (tick.bid + tick.ask) != (st.bid + st.ask)
        new_bid = tick.bid != st.bid or tick.bid_size != st.bid_size
        new_ask = tick.ask != st.ask or tick.ask_size != st.ask_size
        st.volume += tick.last_size
        new_high = not tick.last <= st.high  # NaN-safe: a first price is a new high
        new_low = not tick.last >= st.low
        if new_high:
            st.high = tick.last
        if new_low:
            st.low = tick.last
        st.bid, st.ask, st.bid_size, st.ask_size = tick.bid, tick.ask, tick.bid_size, tick.ask_size
        t = epoch(tick.time)
        venue = st.inst.primary_exchange or st.inst.exchange
        for s in subs:
            send, r = s.peer.send, s.req_id
            if s.kind == 0:
                if new_bid:
                    send(out.tick_price(r, 1, tick.bid, tick.bid_size))
                if new_ask:
                    send(out.tick_price(r, 2, tick.ask, tick.ask_size))
                send(out.tick_price(r, 4, tick.last, tick.last_size))
                send(out.tick_size(r, 8, st.volume))
                if new_high:
                    send(out.tick_price(r, 6, tick.last, 0))
                if new_low:
                    send(out.tick_price(r, 7, tick.last, 0))
            elif s.kind <= 2:
                send(out.tick_by_tick_last(r, s.kind, t, tick.last, tick.last_size, venue))
            elif s.kind == 3:
                if quote_changed:
                    send(
                        out.tick_by_tick_bid_ask(
                            r, t, tick.bid, tick.ask, tick.bid_size, tick.ask_size
                        )
                    )
            elif mid_changed:
                send(out.tick_by_tick_mid(r, t, (tick.bid + tick.ask) / 2))

    # ---- bars ---------------------------------------------------------------------------

    def on_step(self, t0: datetime, t1: datetime) -> None:
        """Real-time bars completed in (t0, t1] and keepUpToDate refreshes."""
        if self.rt_bars:
            self._real_time_bars(_floor5(t0), _floor5(t1))
        for scan in list(self.scans):
            if t1 >= scan.next_update:
                try:
                    self._scan(scan, t1)
                except Exception:  # one bad subscription must not stop the market
                    log.exception("scanner subscription %d failed; ending it", scan.req_id)
                    self.scans.remove(scan)
        for sub in list(self.hist):
            if t1 >= sub.next_update:
                sub.next_update = t1 + HIST_UPDATE_EVERY
                try:
                    self._refresh(sub, t1)
                except Exception:  # one bad subscription must not stop the market
                    log.exception("keepUpToDate bars of %s failed; ending it", sub.inst.symbol)
                    self.hist.remove(sub)
                    sub.peer.error(sub.req_id, 322, "Error processing request: bar updates ended")

    def _real_time_bars(self, a: datetime, b: datetime) -> None:
        if b <= a:
            return
        cache: dict[tuple[int, str], list] = {}
        for sub in self.rt_bars:
            key = (sub.inst.con_id, sub.what)
            bars = cache.get(key)
            if bars is None:
                bars = cache[key] = self.market.history.five_second_bars(
                    sub.inst.con_id, a, b, sub.what
                )
            for bar in bars:
                if sub.use_rth and not sub.inst.is_liquid(bar.time):
                    continue
                sub.peer.send(
                    out.real_time_bar(
                        sub.req_id,
                        epoch(bar.time),
                        bar.open_,
                        bar.high,
                        bar.low,
                        bar.close,
                        bar.volume,
                        bar.wap,
                        bar.count,
                    )
                )

    def _refresh(self, sub: BarSub, now: datetime) -> None:
        """Re-read the bars from the last one sent to now; send the last if it changed and
        every newer one (ib_insync replaces a bar with the same date, appends a newer one)."""
        if sub.last_date is None:
            return  # ib_insync cannot take an update to an empty bar list
        if parse_bar_size(sub.bar_size) == DAY:
            duration = "2 D"
        else:
            start = sub.last_date
            assert isinstance(start, datetime)
            duration = f"{max(1, math.ceil((now - start).total_seconds()))} S"
        try:
            bars = self.market.history.historical_bars(
                sub.inst.con_id, now, duration, sub.bar_size, sub.what, sub.use_rth, now
            )
        except (ValueError, KeyError) as e:
            log.warning("keepUpToDate refresh of %s failed: %s", sub.inst.symbol, e)
            return
        for bar in bars:
            if bar.date < sub.last_date:
                continue
            key = _bar_key(bar)
            if bar.date == sub.last_date and key == sub.last_sent:
                continue
            sub.last_date, sub.last_sent = bar.date, key
            sub.peer.send(
                out.historical_update(
                    sub.req_id,
                    bar.barCount,
                    bar_date(bar.date, sub.format_date, self.tz),
                    bar.open,
                    bar.close,
                    bar.high,
                    bar.low,
                    bar.average,
                    bar.volume,
                )
            )

    def _scan(self, sub: ScanSub, now: datetime) -> None:
        sub.next_update = now + SCAN_EVERY
        rows = run_scan(self.market, self.market.instruments, sub.subscription, now)
        details = [(r.rank, _scan_details(r.instrument)) for r in rows]
        sub.peer.send(out.scanner_data(sub.req_id, details))


def _scan_details(inst: Instrument) -> ContractDetails:
    return ContractDetails(contract=inst.contract(), marketName=inst.trading_class)


def _day_end(inst: Instrument, t: datetime) -> datetime:
    """End of the trading session containing ``t`` (soon, outside sessions: no ticks then)."""
    day = inst.trading_day(t)
    bounds = inst.trading_session(day) if day else None
    return bounds[1] if bounds else t + timedelta(minutes=1)


def _bar_key(bar: BarData) -> tuple[float, ...]:
    return (bar.open, bar.high, bar.low, bar.close, bar.volume, bar.average, bar.barCount)


def _floor5(t: datetime) -> datetime:
    s = math.floor((t - _EPOCH).total_seconds() / RT_BAR_SECONDS) * RT_BAR_SECONDS
    return _EPOCH + timedelta(seconds=s)
