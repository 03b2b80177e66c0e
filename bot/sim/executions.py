"""Execution ids and IB's ExecutionFilter semantics for reqExecutions."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from ib_insync import ExecutionFilter

from bot.sim.broker_events import ExecutionRecord

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
    text = text.strip()
    if not text:
        return None
    parts = text.replace("-", " ", 1).split()
    try:
        t = datetime.strptime(" ".join(parts[:2]), "%Y%m%d %H:%M:%S")
        tz = ZoneInfo(parts[2]) if len(parts) > 2 else UTC
    except (ValueError, KeyError):
        return None
    return t.replace(tzinfo=tz).astimezone(UTC)


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
