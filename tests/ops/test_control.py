"""The control channel: refuses a missing or wrong token, stops and resumes entries, flattens a
strategy, reloads params (a bad value refused with the error, nothing changed); the token is
never written to the log."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path

import e2e_strategies  # noqa: F401 (registers e2e_scripted)
import pytest
from e2e_support import advance, start_gateway
from ops_support import TOKEN, ops_config, post, start
from support.network import free_port
from support.waiting import wait_until

from bot.gateway.server import Gateway


@pytest.fixture
async def gateway() -> AsyncIterator[Gateway]:
    gw = await start_gateway()
    yield gw
    await gw.stop()


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("IBBOT_CONTROL_TOKEN", TOKEN)
    return TOKEN


async def test_control_needs_the_token_and_acts(
    gateway: Gateway, tmp_path: Path, token: str
) -> None:
    log_file = tmp_path / "ibbot.log"
    steps = [{"bar": 1, "symbol": "AAPL", "kind": "buy", "qty": 10, "tag": "e1"},
             {"bar": 5, "symbol": "MSFT", "kind": "buy", "qty": 5, "tag": "e2"}]
    cfg = ops_config(tmp_path, gateway.port, steps, control={"token_env": "IBBOT_CONTROL_TOKEN"},
                     logging={"format": "json", "file": str(log_file)})
    from bot.config.load import load_config
    from bot.runtime.logs import setup_logging

    root = logging.getLogger()
    saved = root.handlers[:], root.level
    lc = load_config(cfg).logging
    setup_logging(lc.level, lc.format, file=lc.file)
    d, task = await start(cfg)
    try:
        assert (await post(d, "stop-entries", {}, token=None))[0] == 401
        code, body = await post(d, "stop-entries", {}, token="wrong")
        assert code == 403 and body == {"error": "wrong token"}
        assert (await post(d, "no-such", {}))[0] == 404

        code, body = await post(d, "stop-entries", {"strategy": "s1"})
        assert code == 200 and body["scope"] == "s1"
        assert d.router is not None
        now = d.clock.now()
        assert d.router.risk.state("s1", now).level.name == "REDUCING"  # type: ignore[attr-defined]
        await advance(gateway, 1)  # its first entry (bar 1) is refused
        await wait_until(lambda: d.router.counters.rejections >= 1, what="entry refused")  # type: ignore[union-attr]
        assert (await post(d, "resume-entries", {"strategy": "s1"}))[0] == 200
        assert d.router.risk.state("s1", d.clock.now()).level.name == "ACTIVE"  # type: ignore[attr-defined]
        await advance(gateway, 5)  # bar 5: MSFT buy 5 passes (and fills)
        await wait_until(lambda: d.executor is not None and d.executor.position("s1", "MSFT") == 5,
                         what="MSFT bought")

        code, body = await post(d, "flatten", {"strategy": "s1"})
        assert code == 200, body
        await advance(gateway, 0.5)
        await wait_until(lambda: d.executor.position("s1", "MSFT") == 0, what="flat")  # type: ignore[union-attr]
        assert (await post(d, "flatten", {"strategy": "nope"}))[0] == 404

        strategy = d.router.slots["s1"].strategy
        before = strategy.params
        code, body = await post(d, "reload", {"strategy": "s1", "params": {"steps": "bad"}})
        assert code == 400 and "bad params, nothing changed" in body["error"], body
        assert strategy.params is before
        new = [{"bar": 9, "symbol": "AAPL", "kind": "buy", "qty": 1, "tag": "z"}]
        code, body = await post(d, "reload", {"strategy": "s1", "params": {"steps": new}})
        assert code == 200, body
        assert strategy.params.steps[0].tag == "z"  # type: ignore[attr-defined]
    finally:
        d.request_stop("test over")
        assert await task == 0
        root.handlers[:], _ = saved
        root.setLevel(saved[1])
    text = log_file.read_text()
    assert "control: stop-entries" in text
    assert token not in text
    assert '"strategy_id": "s1"' in text  # JSON lines carry the strategy


async def test_missing_token_env_is_bad_input(
    gateway: Gateway, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("IBBOT_CONTROL_TOKEN", raising=False)
    from bot.config.load import load_config
    from bot.live.daemon import Daemon, RunOptions
    from bot.ops.server import OpsServer

    cfg = load_config(ops_config(tmp_path, gateway.port, control={}))
    code = await Daemon(cfg, RunOptions(handle_signals=False, print_summary=False),
                        ops=OpsServer).run()
    assert code == 2


async def test_ibbot_kill_and_resume_go_through_the_channel_of_a_running_daemon(
    gateway: Gateway, tmp_path: Path, token: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import asyncio

    from bot.cli import main

    port = free_port()  # a fixed port: the command reads it from the config
    cfg = ops_config(tmp_path, gateway.port, control={"token_env": "IBBOT_CONTROL_TOKEN"},
                     metrics={"port": port})  # fmt: skip
    d, task = await start(cfg)
    try:
        assert d.router is not None
        code = await asyncio.to_thread(main, ["kill", str(cfg), "--strategy", "s1"])
        assert code == 0 and "done by the running daemon" in capsys.readouterr().out
        assert d.router.risk.state("s1", d.clock.now()).level.name == "HALTED"  # type: ignore[attr-defined]
        code = await asyncio.to_thread(main, ["resume", str(cfg), "--strategy", "s1"])
        assert code == 0 and "done by the running daemon" in capsys.readouterr().out
        assert d.router.risk.state("s1", d.clock.now()).level.name == "ACTIVE"  # type: ignore[attr-defined]
        bad = await asyncio.to_thread(main, ["kill", str(cfg), "--strategy", "nope"])
        assert bad == 2  # refused before anything is sent
    finally:
        d.request_stop("test over")
        await task
