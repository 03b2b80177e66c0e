"""``ibbot status`` from the running daemon and, once it stopped, from the journal;
``ibbot journal`` for the day; ``ibbot control`` end to end."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator
from pathlib import Path

import e2e_strategies  # noqa: F401 (registers e2e_scripted)
import pytest
from e2e_support import START, advance, start_gateway
from ops_support import TOKEN, ops_config, start
from support.network import free_port
from support.waiting import wait_until

from bot.cli import main
from bot.gateway.server import Gateway


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = await start_gateway()
    yield gw
    await gw.stop()


async def test_status_journal_and_control_commands(
    gateway: Gateway, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("IBBOT_CONTROL_TOKEN", TOKEN)
    cfg = ops_config(tmp_path, gateway.port, metrics={"port": free_port()}, control={})
    d, task = await start(cfg)
    try:
        await advance(gateway, 3)
        await wait_until(lambda: d.router is not None and d.router.counters.fills >= 2,
                         what="fills")  # fmt: skip
        capsys.readouterr()
        assert await asyncio.to_thread(main, ["status", str(cfg)]) == 0
        out = capsys.readouterr().out
        assert out.startswith("ibbot running: healthy | account DU1234567 (paper)")
        assert "Strategies" in out and "s1" in out and "ACTIVE" in out
        assert "AAPL 1 min" in out  # feed freshness
        assert "Today's fills" in out and "e1" in out and "e2" in out
        gateway.fault("connectivity_lost")  # the supervisor's state, as /health names it
        gateway.fault("farm_broken", farm="market")
        await wait_until(lambda: d.supervisor is not None and not d.supervisor.data_expected,
                         what="1100 seen")  # fmt: skip
        assert await asyncio.to_thread(main, ["status", str(cfg)]) == 0
        out = capsys.readouterr().out
        assert out.startswith("ibbot running: UNHEALTHY: IB connection connectivity lost since ")
        assert "| IB connectivity_lost since " in out and "(1100 Connectivity between" in out
        assert "Data farms" in out and re.search(r"market data:\S+ +broken", out), out
        gateway.fault("farm_ok", farm="market")
        gateway.fault("connectivity_restored", data="kept")
        await wait_until(lambda: d.supervisor is not None and d.supervisor.data_expected,
                         what="1102 seen")  # fmt: skip

        code = await asyncio.to_thread(main, ["control", str(cfg), "stop-entries"])
        assert code == 0 and '"entries": "stopped"' in capsys.readouterr().out
        assert await asyncio.to_thread(main, ["status", str(cfg)]) == 0
        assert "all    REDUCING" in capsys.readouterr().out
        monkeypatch.setenv("IBBOT_CONTROL_TOKEN", "wrong")
        assert await asyncio.to_thread(main, ["control", str(cfg), "resume-entries"]) == 2
        assert "refused (403): wrong token" in capsys.readouterr().err
    finally:
        d.request_stop("test over")
        assert await task == 0

    assert main(["status", str(cfg)]) == 0
    out = capsys.readouterr().out
    assert out.startswith("ibbot is not running; from the journal")
    positions = out.split("Positions")[1].split("Working orders")[0]
    assert "AAPL        10" in positions and "MSFT         5" in positions
    assert main(["journal", str(cfg), "--day", START.date().isoformat()]) == 0
    out = capsys.readouterr().out
    assert "Orders" in out and "Fills" in out and "BUY" in out
    pnl = out.split("P&L")[1]
    assert "s1" in pnl


def test_journal_day_is_checked(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cfg = ops_config(tmp_path, 4002)
    with pytest.raises(SystemExit) as e:
        main(["journal", str(cfg), "--day", "2026-13-01"])
    assert e.value.code == 2
    assert "bad date '2026-13-01': use YYYY-MM-DD" in capsys.readouterr().err
    assert main(["status", str(cfg)]) == 1  # not running, no journal
    assert "no journal at" in capsys.readouterr().err
