"""The market driver's clock modes (as fast as clients read, paced) and the CLI command."""

from __future__ import annotations

import asyncio
import itertools
import signal
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

from gateway_helpers import DAY2, client, flat, make_config, settle
from support.waiting import wait_until

from bot.commands import gateway as command
from bot.gateway.server import Gateway

REPO = Path(__file__).resolve().parents[2]


async def test_as_fast_as_clients_read(market_files: tuple[Path, Path]) -> None:
    start = DAY2 + timedelta(hours=6)  # the last half hour of the data
    gw = Gateway(*make_config(market_files, speed=0, start=start, start_delay=0.0))
    await gw.start()
    try:
        await asyncio.sleep(0.05)
        assert gw.clock.now() == start  # nobody listening: the clock waits
        async with client(gw) as ib:
            await ib.qualifyContractsAsync(flat())
            assert gw.clock.now() == start  # connected but not subscribed: still waiting
            bars = ib.reqRealTimeBars(flat(), 5, "TRADES", False)
            ticker = ib.reqMktData(flat())
            end = gw.market.last_time()
            await wait_until(lambda: gw.clock.now() >= end)
            await settle(ib)
            assert ticker.volume == 390 * 1000  # every tick of the day arrived
            assert len(bars) == 30 * 12
            assert bars[-1].time == end - timedelta(seconds=5)
    finally:
        await gw.stop()


async def test_paced_clock(market_files: tuple[Path, Path]) -> None:
    gw = Gateway(*make_config(market_files, speed=600, tick_interval=0.02))
    await gw.start()
    try:
        async with client(gw) as ib:
            bars = ib.reqRealTimeBars(flat(), 5, "TRADES", False)
            await wait_until(lambda: len(bars) >= 6)
            elapsed = gw.clock.now() - DAY2
            assert timedelta(seconds=30) <= elapsed < timedelta(hours=1)
            times = [b.time for b in bars]
            assert all(b - a == timedelta(seconds=5) for a, b in itertools.pairwise(times))
    finally:
        await gw.stop()


def test_command_arguments(market_files: tuple[Path, Path]) -> None:
    import argparse

    p = argparse.ArgumentParser()
    command.add_arguments(p)
    defaults = command.settings_from_args(p.parse_args([]))
    assert (defaults.port, defaults.speed, defaults.account, defaults.cash) == (
        4002,
        60.0,
        "DU1234567",
        1_000_000.0,
    )
    assert (
        defaults.data.name == "sample" and defaults.instruments.name == "instruments.yaml"
    )
    args = p.parse_args(
        [
            "--port",
            "0",
            "--speed",
            "0",
            "--start",
            "2024-01-05T14:30",
            "--server-version",
            "170",
            "--participation",
            "0.5",
            "--data",
            str(market_files[0]),
        ]
    )
    cfg = command.settings_from_args(args)
    assert cfg.speed == 0 and cfg.start == DAY2 and cfg.server_version == 170
    assert cfg.broker.participation == 0.5
    assert command.settings_from_args(p.parse_args(["--speed", "manual"])).speed is None
    relaxed = command.settings_from_args(p.parse_args(["--no-pacing"]))
    data, instruments = market_files
    gw = Gateway(relaxed.model_copy(update={"data": data, "instruments": instruments}))
    assert not gw.pacer.limits.enabled and not gw.message_rate.enabled
    assert command.run(p.parse_args(["--faults", "/nonexistent.yaml", "--port", "0"])) == 2
    bad = p.parse_args(["--data", "/nonexistent", "--port", "0"])
    assert command.run(bad) == 2


def test_command_serves_and_stops_on_sigterm(market_files: tuple[Path, Path]) -> None:
    data, instruments = market_files
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
        ],
        cwd=REPO,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert proc.stderr is not None
    lines = []
    for line in proc.stderr:
        lines.append(line)
        if "SYNTHETIC" in line:
            break
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=10) == 0
    text = "".join(lines)
    assert "listening on 127.0.0.1:" in text and "prices are SYNTHETIC" in text
