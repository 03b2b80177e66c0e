"""The P&L side of the fake IB: reqPnL / reqPnLSingle and the objects IB keeps updating."""

from __future__ import annotations

from ib_insync import PnL, PnLSingle


class PnlSide:
    def _setup_pnl(self) -> None:
        self.accounts: dict[str, PnL] = {}
        self.singles: dict[int, PnLSingle] = {}
        self.pnl_requests: list[str] = []  # "pnl:<account>", "single:<conId>"

    def pnl(self, account: str) -> list[PnL]:
        return [self.accounts[account]] if account in self.accounts else []

    def reqPnL(self, account: str) -> PnL:
        self.pnl_requests.append(f"pnl:{account}")
        got = self.accounts[account] = PnL(account)
        return got

    def pnlSingle(self, account: str, model: str, con_id: int) -> list[PnLSingle]:
        return [self.singles[con_id]] if con_id in self.singles else []

    def reqPnLSingle(self, account: str, model: str, con_id: int) -> PnLSingle:
        self.pnl_requests.append(f"single:{con_id}")
        got = self.singles[con_id] = PnLSingle(account, model, con_id)
        return got
