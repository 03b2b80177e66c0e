"""Checking the strategies' positions (bot/portfolio/book.py) against the account's at IB.

The account's position at IB is the sum over strategies (plus anything traded by hand);
each strategy sees only the shares its own orders bought and sold. At start-up the book
restored from the journal is trusted only where it agrees with the account
(``disagreements``); the executor refuses to trade otherwise (``PositionMismatchError``).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bot.portfolio.book import Portfolio


class PositionMismatchError(Exception):
    """Positions restored from the journal disagree with the account at IB (exit 2)."""


@dataclass(frozen=True, slots=True)
class Disagreement:
    """One symbol on which the journal's book and the account at IB disagree."""

    symbol: str
    strategies: dict[str, float]  # restored position per strategy (non-zero only)
    unowned: float  # held in the account outside the strategies (recorded at a reset)
    broker: float  # the account's position IB reports

    @property
    def expected(self) -> float:
        return sum(self.strategies.values()) + self.unowned

    def describe(self) -> str:
        held = f"{self.symbol}: strategies hold {sum(self.strategies.values()):g}"
        if self.strategies:
            held += " (" + ", ".join(f"{s} {q:g}" for s, q in self.strategies.items()) + ")"
        if self.unowned:
            held += f", {self.unowned:g} more outside them (recorded at a reset)"
        return f"{held}; IB reports {self.broker:g}"


def disagreements(
    book: Portfolio,
    unowned: Mapping[str, float],
    broker: Mapping[str, float],
    symbols: Iterable[str],
) -> list[Disagreement]:
    """Symbols (sorted) where the strategies' positions plus the unowned part are not what the
    account holds; ``broker`` lacks a symbol the account is flat on."""
    per_symbol: dict[str, dict[str, float]] = {}
    for (sid, symbol), qty in sorted(book.items()):
        per_symbol.setdefault(symbol, {})[sid] = qty
    out = []
    for symbol in sorted(set(symbols)):
        d = Disagreement(
            symbol, per_symbol.get(symbol, {}), unowned.get(symbol, 0.0), broker.get(symbol, 0.0)
        )
        if abs(d.expected - d.broker) > 1e-9:
            out.append(d)
    return out


def mismatch_message(account: str, journal: Path, found: Iterable[Disagreement]) -> str:
    """What the operator reads when the daemon refuses to trade on disagreeing positions."""
    lines = [f"refusing to trade: the journal's positions disagree with account {account} at IB"]
    lines += [f"  {d.describe()}" for d in found]
    lines.append(
        f"Journal: {journal}. Nothing was sent. Find out why (trades by hand, another program "
        "on this account, a restarted gateway, another journal file), then run again with "
        "--reset-positions to start the strategies flat on these symbols (journalled)."
    )
    return "\n".join(lines)
