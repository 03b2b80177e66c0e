"""Executions of the simulated broker: booking one (its commission, the account's books, the
order's fill figures, IB's execution and commission report), the current day's log that
reqExecutions answers from, execution ids and IB's ExecutionFilter semantics."""

from __future__ import annotations

import copy
import secrets
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ib_insync import CommissionReport, Execution, ExecutionFilter

from bot.model.ib_time import parse_ib_time
from bot.sim.account import Account
from bot.sim.broker_events import ExecutionEvent, ExecutionRecord
from bot.sim.commission import CommissionConfig, MonthlyVolume, execution_charge
from bot.sim.orders import UNSET, SimOrder

_SIDES = {"BUY": "BOT", "SELL": "SLD", "BOT": "BOT", "SLD": "SLD"}


def exec_id(session: int, seq: int) -> str:
    """IB-shaped execution id ("0000e0d5.6565f0a1.01.01"): ``session`` is random per broker
    instance, so a restarted simulated gateway never reissues an id a client has journalled."""
    return f"{session & 0xFFFFFFFF:08x}.{seq & 0xFFFFFFFF:08x}.01.01"


def parse_filter_time(text: str) -> datetime | None:
    """ExecutionFilter.time: "yyyymmdd hh:mm:ss [tz]" or "yyyymmdd-hh:mm:ss" (UTC).

    IB reads a time without a zone in the TWS login time zone; the simulator reads it as UTC.
    Returns None for an empty or unreadable time (IB then applies no time filter).
    """
    try:
        return parse_ib_time(text, UTC) if text.strip() else None
    except ValueError:
        return None


def matches(rec: ExecutionRecord, flt: ExecutionFilter | None) -> bool:
    """IB's filter: every non-empty (non-zero clientId) field must match; time is 'since'."""
    if flt is None:
        return True
    e, c = rec.execution, rec.contract
    if flt.clientId and flt.clientId != rec.client_id:
        return False
    if flt.acctCode and flt.acctCode != rec.account:
        return False
    since = parse_filter_time(flt.time)
    if since is not None and e.time < since:
        return False
    # exchange: the execution's venue, or the exchange the order was routed to (SMART).
    checks: tuple[tuple[str, tuple[str, ...]], ...] = (
        (flt.symbol, (c.symbol,)),
        (flt.secType, (c.secType,)),
        (flt.exchange, (e.exchange, c.exchange)),
    )
    if any(want and want.upper() not in {h.upper() for h in have} for want, have in checks):
        return False
    return not flt.side or _SIDES.get(flt.side.upper()) == e.side


class ExecutionLog:
    """Each account's executions of the current day, and the booking of new ones."""

    def __init__(self, commission: CommissionConfig, day_tz: ZoneInfo) -> None:
        self._commission = commission
        self._records: dict[str, list[ExecutionRecord]] = {}
        self._seq = 0
        self._session = secrets.randbits(32)
        self._month_volume = MonthlyVolume(day_tz)  # the ib_tiered commission tier

    def open(self, account: str) -> None:
        self._records[account] = []

    def of(self, account: str, flt: ExecutionFilter | None = None) -> list[ExecutionRecord]:
        """The account's executions that pass ``flt``, in time order."""
        return [r for r in self._records.get(account, []) if matches(r, flt)]

    def forget_before(self, day_start: datetime) -> None:
        for account, recs in self._records.items():
            if recs and recs[0].execution.time < day_start:
                self._records[account] = [r for r in recs if r.execution.time >= day_start]

    def book(
        self, o: SimOrder, acct: Account, qty: float, price: float, when: datetime, liquidity: int
    ) -> ExecutionEvent:
        """One execution of ``o``: charged, booked in ``acct`` and the order, logged; the
        event that reports it."""
        inst = o.instrument
        stock = inst.sec_type == "STK"  # stock volume sets the ib_tiered rate
        charge = execution_charge(
            self._commission, inst.sec_type, prior_qty=o.filled, prior_value=o.filled_value,
            prior_share_fees=o.share_fees, qty=qty, price=price,
            month_shares=self._month_volume.record(o.account, when, qty) if stock else 0.0,
        )  # fmt: skip
        o.share_fees = charge.share_fees
        result = acct.apply_fill(o.contract, o.side, qty, price, charge.fee)
        o.filled += qty
        o.filled_value += qty * price
        o.last_fill_price = price
        execution = self._execution(o, qty, price, when, liquidity)
        report = CommissionReport(
            execId=execution.execId, commission=charge.fee, currency=acct.currency,
            yield_=UNSET,
            realizedPNL=UNSET if result.realized is None else round(result.realized, 6),
        )  # fmt: skip
        self._records[o.account].append(
            ExecutionRecord(o.account, o.client_id, o.contract, execution, report)
        )
        return ExecutionEvent(o.account, o.client_id, o.contract, copy.copy(execution),
                              copy.copy(report), o.public_order())  # fmt: skip

    def _execution(
        self, o: SimOrder, qty: float, price: float, when: datetime, liquidity: int
    ) -> Execution:
        self._seq += 1
        inst = o.instrument
        return Execution(
            execId=exec_id(self._session, self._seq),
            time=when,
            acctNumber=o.account,
            exchange=inst.primary_exchange or inst.exchange,
            side="BOT" if o.side > 0 else "SLD",
            shares=qty,
            price=price,
            permId=o.order.permId,
            clientId=o.client_id,
            orderId=o.order.orderId,
            cumQty=o.filled,
            avgPrice=round(o.avg_fill_price, 8),
            orderRef=o.order.orderRef,
            lastLiquidity=liquidity,
        )
