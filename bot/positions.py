"""Per-strategy positions and commissions, built only from routed fills.

The account's position at IB is the sum over strategies (plus anything traded by hand);
each strategy sees only the shares its own orders bought and sold.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping


class PositionBook:
    def __init__(self, initial: Mapping[tuple[str, str], float] | None = None) -> None:
        self._pos: dict[tuple[str, str], float] = dict(initial or {})
        self._commission: dict[str, float] = {}

    def get(self, strategy_id: str, symbol: str) -> float:
        return self._pos.get((strategy_id, symbol), 0.0)

    def apply(self, strategy_id: str, symbol: str, signed_qty: float) -> float:
        key = (strategy_id, symbol)
        pos = self._pos.get(key, 0.0) + signed_qty
        if abs(pos) < 1e-9:
            self._pos.pop(key, None)
            return 0.0
        self._pos[key] = pos
        return pos

    def add_commission(self, strategy_id: str, amount: float) -> None:
        self._commission[strategy_id] = self._commission.get(strategy_id, 0.0) + amount

    def commission(self, strategy_id: str) -> float:
        return self._commission.get(strategy_id, 0.0)

    def items(self) -> Iterator[tuple[tuple[str, str], float]]:
        """Non-zero positions as ((strategy_id, symbol), quantity)."""
        return iter(list(self._pos.items()))

    def by_symbol(self) -> dict[str, float]:
        """Net over strategies, for comparing with the account's positions at IB."""
        net: dict[str, float] = {}
        for (_, symbol), qty in self._pos.items():
            net[symbol] = net.get(symbol, 0.0) + qty
        return net
