"""Commission schedules and slippage through the unmodified ib_insync client, on the staircase
market of order_market.py: at Friday's open STEP trades at 50.00 with the quote 49.99 / 50.01."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from gateway_helpers import client, settle
from ib_insync import IB, Contract, MarketOrder, Trade
from order_market import at, running, step, to

from bot.commands import gateway as command
from bot.gateway.server import Gateway


async def _buy_then_sell(ib: IB, gw: Gateway, qty: float) -> tuple[Trade, Trade]:
    c = step()
    await ib.qualifyContractsAsync(c)
    buy = await _place(ib, c, "BUY", qty)
    await to(gw, ib, at(0, 5))
    sell = await _place(ib, c, "SELL", qty)
    await to(gw, ib, at(0, 10))
    return buy, sell


async def _place(ib: IB, contract: Contract, action: str, qty: float) -> Trade:
    trade = ib.placeOrder(contract, MarketOrder(action, qty))
    await settle(ib)  # at the gateway before its clock moves
    return trade


def _reports(trade: Trade) -> list[tuple[float, str]]:
    return [(f.commissionReport.commission, f.commissionReport.currency) for f in trade.fills]


async def test_commission_none_reports_zero(files: tuple[Path, Path]) -> None:
    async with running(files, commission="none") as gw, client(gw) as ib:
        buy, sell = await _buy_then_sell(ib, gw, 1000)
        assert _reports(buy) == _reports(sell) == [(0.0, "USD")]
        [report] = [f.commissionReport for f in sell.fills]
        assert report.realizedPNL == -20.0  # bought at 50.01, sold at 49.99, nothing else


async def test_commission_ib_tiered(files: tuple[Path, Path]) -> None:
    async with running(files, commission="ib_tiered") as gw, client(gw) as ib:
        buy, sell = await _buy_then_sell(ib, gw, 1000)
        assert _reports(buy) == _reports(sell) == [(3.5, "USD")]  # 1000 x 0.0035
        small = await _place(ib, buy.contract, "BUY", 10)
        await to(gw, ib, at(0, 15))
        assert _reports(small) == [(0.35, "USD")]  # 0.035 -> the 0.35 minimum
        [report] = [f.commissionReport for f in sell.fills]
        assert report.realizedPNL == -27.0  # -20.00 spread, less 3.50 each way


async def test_slippage_ticks_move_market_fills_against_the_order(files: tuple[Path, Path]) -> None:
    async with running(files, commission="none", slippage_ticks=2) as gw, client(gw) as ib:
        buy, sell = await _buy_then_sell(ib, gw, 100)
        assert [f.execution.price for f in buy.fills] == [50.03]  # ask 50.01 + 2 ticks
        assert [f.execution.price for f in sell.fills] == [49.97]  # bid 49.99 - 2 ticks


def test_gateway_command_flags(capsys: pytest.CaptureFixture[str]) -> None:
    p = argparse.ArgumentParser()
    command.add_arguments(p)
    default = command.settings_from_args(p.parse_args([])).broker
    assert (default.commission.schedule, default.slippage_ticks) == ("ib_fixed", 0.0)
    chosen = command.settings_from_args(
        p.parse_args(["--commission", "ib_tiered", "--slippage-ticks", "1"])
    ).broker
    assert (chosen.commission.schedule, chosen.slippage_ticks) == ("ib_tiered", 1.0)
    for bad in (["--commission", "tiered"], ["--slippage-ticks", "-1"]):
        with pytest.raises(SystemExit) as exit_:
            p.parse_args(bad)
        assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "invalid choice: 'tiered'" in err and "slippage must be >= 0 ticks" in err
