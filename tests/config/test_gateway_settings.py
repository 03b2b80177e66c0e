"""One model for the simulated gateway's settings: the config's ``gateway:`` block and the
flags of ``ibbot gateway`` (generated from its fields) build the same thing."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
from pydantic import Field

from bot.commands import gateway as command
from bot.config.flags import add_flags, from_args
from bot.config.gateway import GatewaySettings
from bot.config.load import load_config

MINIMAL = """
universe:
  symbols: [AAPL]
strategies:
  - id: trend
    class: tiny_cross
    symbols: [AAPL]
    sizing: {fixed: 10}
"""

# Every flag ``ibbot gateway`` had before its flags were generated.
OLD_FLAGS = (
    "--host", "--port", "--data", "--instruments", "--start", "--speed", "--account", "--cash",
    "--seed", "--server-version", "--slippage-ticks", "--commission", "--participation",
    "--faults", "--no-pacing", "--log-level",
)  # fmt: skip


def _parser(model: type[GatewaySettings] = GatewaySettings) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser()
    add_flags(p, model)
    return p


def _options(p: argparse.ArgumentParser) -> set[str]:
    return {o for action in p._actions for o in action.option_strings}


def test_every_field_is_a_flag_and_every_old_flag_is_kept() -> None:
    p = argparse.ArgumentParser()
    command.add_arguments(p)
    options = _options(p)
    assert set(OLD_FLAGS) <= options
    for name in GatewaySettings.model_fields:
        flag = "--" + name.replace("_", "-")
        assert flag in options or "--no-" + flag[2:] in options


def test_a_new_field_is_a_new_flag_with_its_description_as_help() -> None:
    class Wider(GatewaySettings):
        latency_ms: float = Field(default=0, ge=0, description="added wire latency")

    p = _parser(Wider)
    [action] = [a for a in p._actions if "--latency-ms" in a.option_strings]
    assert action.help == "added wire latency (default: 0)"
    assert from_args(Wider, p.parse_args(["--latency-ms", "5"])).latency_ms == 5.0
    with pytest.raises(SystemExit):
        p.parse_args(["--latency-ms", "-1"])  # the model's own check


def test_the_command_and_the_config_file_keep_their_own_defaults() -> None:
    cli = from_args(GatewaySettings, _parser().parse_args([]))
    assert (cli.port, cli.speed, cli.data.is_absolute(), cli.pacing) == (4002, 60.0, True, True)
    yaml = GatewaySettings()
    assert (yaml.port, yaml.speed, yaml.data, yaml.pacing) == (0, 600, Path("data/sample"), True)


def test_the_yaml_block_and_the_flags_build_equal_settings(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    data, instruments, faults = tmp_path / "data", tmp_path / "inst.yaml", tmp_path / "f.yaml"
    data.mkdir()
    instruments.write_text("{}")
    faults.write_text("steps: []\n")
    monkeypatch.chdir(tmp_path)
    block = {
        "data": data, "instruments": instruments, "start": "2024-01-05T14:30", "speed": 60,
        "seed": 7, "account": "DU1", "cash": 5000, "participation": 0.2, "slippage_ticks": 1.5,
        "commission": "ib_tiered", "fill_at": "last", "bar_size": "5 mins", "host": "127.0.0.2",
        "port": 4010, "server_version": 170, "faults": faults,
    }  # fmt: skip
    text = MINIMAL + "gateway:\n" + "".join(f"  {k}: '{v}'\n" for k, v in block.items())
    (tmp_path / "bot.yaml").write_text(text + "  pacing: false\n")
    from_yaml = load_config(tmp_path / "bot.yaml", env={}).gateway
    argv = [f"--{k.replace('_', '-')}={v}" for k, v in block.items()] + ["--no-pacing"]
    from_cli = command.settings_from_args(_parser().parse_args(argv))
    assert from_yaml == from_cli
    assert from_cli.start is not None and from_cli.start.tzinfo is not None
    assert from_cli.broker.participation == 0.2 and not from_cli.broker.fill_at_quote
