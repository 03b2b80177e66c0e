"""The account's market-data lines: one count over every subscription the daemon holds at IB.

IB gives an account 100 lines unless more are bought
(https://interactivebrokers.github.io/tws-api/market_data.html). Each real-time bar
subscription (``reqRealTimeBars``), keepUpToDate historical subscription, market-data ticker
(``reqMktData``) and tick-by-tick subscription holds one, from its request until it is
cancelled; one request past the limit IB refuses with error 101 ("Max number of tickers has been
reached"). The feed takes a line before each such request and gives it back when the
subscription ends: a cancel, a stream a scanner's rotation dropped, the socket lost (IB drops
every subscription with it). Past the limit the request is not sent: an error names the symbol
and the limit, once, until a line comes free and the next start takes it.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Hashable

log = logging.getLogger(__name__)

BARS, TICKS = "bars", "ticks"  # what holds a line: a bar stream, a tick subscription


class DataLinesExceeded(Exception):
    """The configuration needs more market-data lines than the account has."""


class DataLines:
    def __init__(self, limit: int) -> None:
        self.limit = limit
        self._held: dict[Hashable, str] = {}  # holder -> its kind (BARS | TICKS)
        self.refused: dict[Hashable, str] = {}  # holder -> what it is, for the operator

    @property
    def used(self) -> int:
        return len(self._held)

    def holds(self, holder: Hashable) -> bool:
        return holder in self._held

    def take(self, holder: Hashable, kind: str, what: str) -> bool:
        """A line for ``holder`` (already held: True); all in use: False, logged once."""
        if holder in self._held:
            return True
        if len(self._held) >= self.limit:
            if holder not in self.refused:
                self.refused[holder] = what
                log.error("%s: not subscribed: all %d market-data lines are in use (%s); raise "
                          "ib.max_data_lines if the account has more (IB would answer error "
                          "101)", what, self.limit, self.describe())  # fmt: skip
            return False
        self.refused.pop(holder, None)
        self._held[holder] = kind
        return True

    def release(self, holder: Hashable) -> None:
        self._held.pop(holder, None)

    def forget(self, holder: Hashable) -> None:
        """``holder`` is gone for good (removed, not merely cancelled): no line, no refusal."""
        self._held.pop(holder, None)
        self.refused.pop(holder, None)

    def describe(self) -> str:
        """e.g. ``98 bar streams, 2 tick subscriptions``."""
        n = Counter(self._held.values())
        return f"{n[BARS]} bar streams, {n[TICKS]} tick subscriptions"

    def check(self, wanted: list[str]) -> None:
        """At start-up: ``wanted`` (one label per line the config needs) fits the limit."""
        if len(wanted) > self.limit:
            over = ", ".join(wanted[self.limit:][:5]) + (", ..." if len(wanted) > self.limit + 5
                                                         else "")  # fmt: skip
            raise DataLinesExceeded(
                f"the strategies need {len(wanted)} market-data lines (a bar stream or a tick "
                f"subscription each) but ib.max_data_lines is {self.limit}: no line for {over}; "
                "raise ib.max_data_lines if the account has more, or trade fewer symbols"
            )
