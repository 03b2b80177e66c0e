"""IB's own P&L beside the bot's: ``reqPnL`` for the account and ``reqPnLSingle`` for each traded
symbol (https://interactivebrokers.github.io/tws-api/pnl.html).

ib_insync keeps the subscribed ``PnL`` / ``PnLSingle`` objects up to date; a reconnect drops them
(ib_insync resets its state with the socket), so the daemon calls ``subscribe`` after every
connect. Strategies read the figures through their context (``ib_pnl_today``), never this module.
``check`` warns, once per exchange day per strategy and for the account, when IB's daily P&L and
the bot's own disagree by more than the commissions paid.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Iterable, Mapping
from datetime import date, datetime
from typing import TYPE_CHECKING

from bot.client.ib import IB, PnL, PnLSingle
from bot.strategy.context import SymbolInfo

if TYPE_CHECKING:
    from bot.trading.router import Router

log = logging.getLogger(__name__)

_UNSET = 1e300  # IB sends Double.MAX_VALUE for a figure it has not got


def _figure(x: float) -> float | None:
    return None if math.isnan(x) or abs(x) >= _UNSET else float(x)


class IbPnl:
    """The daemon's P&L subscriptions; symbols added later (a daily scan's) are subscribed on
    first read."""

    def __init__(self, ib: IB, infos: Mapping[str, SymbolInfo]) -> None:
        self.ib = ib
        self.infos = infos
        self.account = ""
        self._account_pnl: PnL | None = None
        self._singles: dict[str, PnLSingle] = {}
        self._warned: set[tuple[date, str]] = set()

    def subscribe(self, account: str) -> None:
        """Subscribe the account and every known symbol (after each connect; idempotent)."""
        self.account = account
        existing = self.ib.pnl(account)
        self._account_pnl = existing[0] if existing else self.ib.reqPnL(account)
        self._singles.clear()
        for symbol in self.infos:
            self._single(symbol)

    def _single(self, symbol: str) -> PnLSingle | None:
        got = self._singles.get(symbol)
        info = self.infos.get(symbol)
        if got is not None or info is None or not self.account or not self.ib.isConnected():
            return got
        con_id = info.contract.conId
        existing = self.ib.pnlSingle(self.account, "", con_id)
        got = existing[0] if existing else self.ib.reqPnLSingle(self.account, "", con_id)
        self._singles[symbol] = got
        return got

    def account_daily(self) -> float | None:
        """IB's daily P&L of the whole account (None until IB sent it)."""
        return None if self._account_pnl is None else _figure(self._account_pnl.dailyPnL)

    def daily(self, symbols: Iterable[str]) -> float | None:
        """The sum of IB's daily P&L over ``symbols``; None until IB reported one of them. A
        symbol IB has no figure for (never held) counts 0."""
        total, known = 0.0, False
        for symbol in symbols:
            single = self._single(symbol)
            x = None if single is None else _figure(single.dailyPnL)
            if x is not None:
                total, known = total + x, True
        return total if known else None

    def check(self, router: Router, now: datetime) -> None:
        """Warn where IB's daily P&L and the bot's differ by more than the commissions paid;
        a strategy sharing a symbol with another is left to the account-wide comparison."""
        day = now.astimezone(router.pnl.tz).date()
        owners: dict[str, int] = {}
        for slot in router.slots.values():
            for symbol in slot.ctx.symbols:
                owners[symbol] = owners.get(symbol, 0) + 1
        fees = 0.0
        for sid, slot in router.slots.items():
            commission = router.executor.commission(sid)
            fees += commission
            if any(owners[s] > 1 for s in slot.ctx.symbols):
                continue
            ib = self.daily(slot.ctx.symbols)
            self._compare(day, sid, router.pnl.today(sid), ib, commission)
        self._compare(day, "account", router.pnl_today(), self.account_daily(), fees)

    def _compare(self, day: date, who: str, own: float, ib: float | None, fees: float) -> None:
        if ib is None or abs(ib - own) <= fees + 0.01 or (day, who) in self._warned:
            return
        self._warned.add((day, who))
        log.warning(
            "P&L %s: IB's daily P&L %+.2f, the bot's own %+.2f: they differ by %.2f, more than "
            "the commissions paid (%.2f); positions the bot did not trade, or fills it missed?",
            who, ib, own, abs(ib - own), fees,
        )  # fmt: skip
