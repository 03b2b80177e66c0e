"""Fault scenarios through the unmodified ib_insync client, beyond test_gateway_faults.py:
fills while nobody is connected (and a plan that forbids them), reject rules, farm outages
stopping the data, and a fault plan run by ``ibbot gateway --faults FILE`` in a subprocess.

Prices come from the staircase market of order_market.py (quotes price -/+ 0.01).
"""

from __future__ import annotations

import asyncio
import re
import subprocess
import sys
from pathlib import Path

import pytest
from gateway_helpers import client, errors, settle
from ib_insync import IB, LimitOrder, MarketOrder, StopOrder
from order_market import advance_to, at, running, step, to
from support.waiting import wait_until

from bot.gateway.faults import FaultPlan

REPO = Path(__file__).resolve().parents[2]


# ---- fills while no client is connected ------------------------------------------------------


async def test_fills_during_a_restart_show_in_the_next_executions_and_completed_orders(
    files: tuple[Path, Path],
) -> None:
    async with running(files) as gw:
        async with client(gw, 3) as ib:
            c = step()
            await ib.qualifyContractsAsync(c)
            sell = ib.placeOrder(c, LimitOrder("SELL", 100, 50.90))
            stop = ib.placeOrder(c, StopOrder("SELL", 100, 49.80))
            await settle(ib)
            perm = (sell.order.permId, stop.order.permId)
            gone: list[bool] = []
            ib.disconnectedEvent += lambda: gone.append(True)
            gw.fault("restart", seconds=60)  # at 14:30: refusing until 14:31
            await wait_until(lambda: gone, what="the client told")
            assert gone == [True] and not ib.isConnected()
        with pytest.raises(ConnectionRefusedError):
            await IB().connectAsync("127.0.0.1", gw.port, clientId=3, timeout=2)
        await advance_to(gw, at(20, 2))  # back up since 14:31; nobody connected at 51.00
        async with client(gw, 3) as ib:
            executions = await ib.reqExecutionsAsync()
            assert [
                (f.execution.permId, f.execution.shares, f.execution.price) for f in executions
            ] == [(perm[0], 100, 50.90)]
            done = await ib.reqCompletedOrdersAsync(False)
            assert [(t.order.permId, t.orderStatus.status) for t in done] == [(perm[0], "Filled")]
            [working] = await ib.reqOpenOrdersAsync()
            assert working.order.permId == perm[1]
            assert [p.position for p in ib.positions()] == [-100]


async def test_a_plan_can_forbid_fills_while_nobody_is_connected(files: tuple[Path, Path]) -> None:
    plan = FaultPlan(fill_while_disconnected=False)
    async with running(files, fault_plan=plan) as gw:
        async with client(gw, 3) as ib:
            c = step()
            await ib.qualifyContractsAsync(c)
            sell = ib.placeOrder(c, LimitOrder("SELL", 100, 50.90))
            await settle(ib)
            await to(gw, ib, at(0, 5))  # resting: 50.00 is below its limit
        await wait_until(lambda: not gw.sessions, what="the gateway seeing the client go")
        await advance_to(gw, at(25))  # 51.00 traded, but matching pauses without clients
        async with client(gw, 3) as ib:
            assert await ib.reqExecutionsAsync() == []
            [t] = await ib.reqOpenOrdersAsync()
            assert t.order.permId == sell.order.permId
            await to(gw, ib, at(29, 58))  # connected again, still 51.00: now it fills
            assert [f.execution.price for f in ib.fills()] == [50.90]


# ---- rejects -------------------------------------------------------------------------------


async def test_reject_the_next_n_orders_then_accept(files: tuple[Path, Path]) -> None:
    async with running(files) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        seen = errors(ib)
        gw.fault("reject_orders", count=2)
        trades = [ib.placeOrder(c, LimitOrder("BUY", 10, 45.0)) for _ in range(3)]
        await settle(ib)
        assert [t.orderStatus.status for t in trades] == ["Cancelled", "Cancelled", "Submitted"]
        text = "Order rejected - reason:Simulated rejection (fault plan)"
        assert seen == [(t.order.orderId, 201, text) for t in trades[:2]]
        assert trades[0].log[-1].errorCode == 201


async def test_reject_orders_matching_a_rule_until_cleared(files: tuple[Path, Path]) -> None:
    async with running(files) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        seen = errors(ib)
        gw.fault("reject_orders", action="SELL", order_type="LMT", text="No short sales today")
        sell_lmt = ib.placeOrder(c, LimitOrder("SELL", 10, 55.0))
        sell_mkt = ib.placeOrder(c, MarketOrder("SELL", 10))
        buy_lmt = ib.placeOrder(c, LimitOrder("BUY", 10, 45.0))
        sell_again = ib.placeOrder(c, LimitOrder("SELL", 10, 56.0))
        await settle(ib)
        assert [t.orderStatus.status for t in (sell_lmt, sell_mkt, buy_lmt, sell_again)] == [
            "Cancelled",
            "Submitted",
            "Submitted",
            "Cancelled",
        ]
        assert {(code, text) for _, code, text in seen} == {
            (201, "Order rejected - reason:No short sales today")
        }
        gw.fault("clear_rejects")
        fine = ib.placeOrder(c, LimitOrder("SELL", 10, 57.0))
        await settle(ib)
        assert fine.orderStatus.status == "Submitted"


# ---- farms ---------------------------------------------------------------------------------


async def test_a_broken_market_farm_stops_the_data_until_it_is_ok(files: tuple[Path, Path]) -> None:
    async with running(files) as gw, client(gw) as ib:
        seen = errors(ib)
        ticker = ib.reqMktData(step())
        await to(gw, ib, at(0, 5))
        before = ticker.volume
        assert before > 0
        gw.fault("farm_broken")
        gw.fault("farm_broken", farm="hmds")
        await to(gw, ib, at(1))
        assert ticker.volume == before  # nothing streams while the farm is down
        gw.fault("farm_ok")
        gw.fault("farm_ok", farm="hmds")
        await to(gw, ib, at(2))
        assert ticker.volume > before and ticker.last == 50.0
        assert [(code, text) for _, code, text in seen] == [
            (2103, "Market data farm connection is broken:usfarm"),
            (2105, "HMDS data farm connection is broken:ushmds"),
            (2104, "Market data farm connection is OK:usfarm"),
            (2106, "HMDS data farm connection is OK:ushmds"),
        ]


async def test_connectivity_notices_use_ibs_texts(files: tuple[Path, Path]) -> None:
    async with running(files) as gw, client(gw) as ib:
        seen = errors(ib)
        gw.fault("connectivity_lost")
        gw.fault("connectivity_restored", data="lost")
        gw.fault("connectivity_lost")
        gw.fault("connectivity_restored", data="kept")
        await settle(ib)
        await settle(ib)
        assert [(r, code, text) for r, code, text in seen] == [
            (-1, 1100, "Connectivity between IB and Trader Workstation has been lost."),
            (
                -1,
                1101,
                "Connectivity between IB and Trader Workstation has been restored - data lost.",
            ),
            (-1, 1100, "Connectivity between IB and Trader Workstation has been lost."),
            (
                -1,
                1102,
                "Connectivity between IB and Trader Workstation has been restored - data "
                "maintained.",
            ),
        ]


# ---- a plan through the command line -------------------------------------------------------


def test_fault_plan_file_through_the_command(files: tuple[Path, Path], tmp_path: Path) -> None:
    """``ibbot gateway --faults FILE`` at 60x: a farm notice after 60 simulated seconds, every
    socket closed after 90."""
    data, instruments = files
    plan = tmp_path / "plan.yaml"
    plan.write_text(
        "steps:\n  - {after: 60s, do: farm_broken}\n  - {after: 90s, do: disconnect_all}\n"
    )
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "bot",
            "gateway",
            "--port",
            "0",
            "--data",
            str(data),
            "--instruments",
            str(instruments),
            "--speed",
            "60",
            "--faults",
            str(plan),
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stderr is not None
        port = 0
        for line in proc.stderr:
            m = re.search(r"listening on 127\.0\.0\.1:(\d+)", line)
            if m:
                port = int(m.group(1))
                break
        assert port

        async def watch() -> tuple[list[int], bool]:
            ib = IB()
            codes: list[int] = []
            ib.errorEvent += lambda req_id, code, text, contract: codes.append(code)
            closed = asyncio.Event()
            ib.disconnectedEvent += closed.set
            await ib.connectAsync("127.0.0.1", port, clientId=1, timeout=5)
            await asyncio.wait_for(closed.wait(), timeout=10)
            return codes, ib.isConnected()

        codes, connected = asyncio.run(watch())
        assert codes == [2104, 2106, 2158, 2103] and not connected  # start-up notices first
    finally:
        proc.terminate()
        assert proc.wait(timeout=10) == 0


# ---- delayed acknowledgements ----------------------------------------------------------------


async def test_a_delayed_ack_still_comes_before_the_fills(files: tuple[Path, Path]) -> None:
    async with running(files) as gw, client(gw) as ib:
        c = step()
        await ib.qualifyContractsAsync(c)
        gw.fault("delay_acks", seconds=10)
        trade = ib.placeOrder(c, MarketOrder("BUY", 100))
        await settle(ib)
        await to(gw, ib, at(0, 5))  # the market traded, but IB has not taken the order yet
        assert trade.orderStatus.status == "PendingSubmit" and trade.fills == []
        await to(gw, ib, at(0, 10))  # acknowledged at 14:30:10; it works from then on
        assert trade.orderStatus.status == "Submitted" and trade.fills == []
        await to(gw, ib, at(0, 12))  # the next print, 14:30:11.25
        assert trade.orderStatus.status == "Filled"
        assert [(f.execution.shares, f.execution.price) for f in trade.fills] == [(100, 50.01)]
        assert [e.status for e in trade.log] == [
            "PendingSubmit",
            "Submitted",
            "Submitted",
            "Filled",
        ]
        assert [p.position for p in ib.positions()] == [100]
        # a cancel sent while the order is still held follows it: Cancelled, never filled
        late = ib.placeOrder(c, MarketOrder("BUY", 100))
        await settle(ib)
        ib.cancelOrder(late.order)
        await settle(ib)
        await to(gw, ib, at(0, 30))
        assert late.orderStatus.status == "Cancelled" and late.fills == []
