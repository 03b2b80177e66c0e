"""Bad configs: each case asserts the exact message an operator reads (file:line: path: text)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config.errors import ConfigError
from bot.config.load import load_config

# A valid config; cases below are edits of it, written out whole so line numbers are visible.
GOOD = """
universe:
  symbols: [AAPL, MSFT, EUR.USD]
strategies:
  - id: trend
    class: tiny_cross
    symbols: [AAPL, MSFT]
    params: {fast: 3}
    sizing: {fixed: 10}
"""

CASES: list[tuple[str, str, str]] = [
    (
        "tick-by-tick ticks without a type",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            ticks: {kind: tick_by_tick}
            sizing: {fixed: 10}
        """,
        "FILE:7: strategies[0].ticks: tick_by_tick needs 'what': one of AllLast, Last, BidAsk, "
        "MidPoint",
    ),
    (
        "an unknown tick-by-tick type",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            ticks: {kind: tick_by_tick, what: Trades}
            sizing: {fixed: 10}
        """,
        "FILE:7: strategies[0].ticks.what: bad value 'Trades'; allowed: AllLast, Last, BidAsk, "
        "MidPoint",
    ),
    (
        "ticks neither a flag nor a spec",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            ticks: often
            sizing: {fixed: 10}
        """,
        "FILE:7: strategies[0].ticks: expected true, false or {kind: market_data | tick_by_tick, "
        "what: ...}, got 'often'",
    ),
    (
        "unknown param key, closest suggested",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            params:
              fsat: 3
            sizing: {fixed: 10}
        """,
        "FILE:8: strategies[0].params: unknown key 'fsat' (did you mean 'fast'?)",
    ),
    (
        "unknown strategy class, closest suggested, known listed",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            sizing: {fixed: 10}
          - id: momo
            class: macd_stochastc
            symbols: [AAPL]
            params: {k_period: 14}
            sizing: {fixed: 10}
        """,
        "FILE:9: strategies[1].class: unknown strategy 'macd_stochastc'"
        " (did you mean 'macd_stochastic'?); known: macd_stochastic, tiny_cross",
    ),
    (
        "unknown top-level key",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            sizing: {fixed: 10}
        risks:
          max_position: 100
        """,
        "FILE:8: unknown key 'risks' (did you mean 'risk'?)",
    ),
    (
        "unknown key without a close match lists the allowed ones",
        """
        logging:
          colour: true
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            sizing: {fixed: 10}
        """,
        "FILE:2: logging: unknown key 'colour'; allowed: level, format, file, max_bytes, backups",
    ),
    (
        "wrong type shows the bad value",
        """
        ib:
          host: 127.0.0.1
          port: four-thousand-two
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            sizing: {fixed: 10}
        """,
        "FILE:3: ib.port: expected an integer, got 'four-thousand-two'",
    ),
    (
        "wrong type inside a strategy's params",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            params:
              fast: 3
              slow: 1.5
            sizing: {fixed: 10}
        """,
        "FILE:9: strategies[0].params.slow: expected a whole number, got 1.5",
    ),
    (
        "missing required key",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
        """,
        "FILE:4: strategies[0]: missing required key 'sizing'",
    ),
    (
        "missing required param of the strategy class",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: momo
            class: macd_stochastic
            symbols: [AAPL]
            params: {signal: 5}
            sizing: {fixed: 10}
        """,
        "FILE:7: strategies[0].params: missing required key 'k_period'",
    ),
    (
        "strategy symbol not in the universe",
        """
        universe:
          symbols: [AAPL, MSFT, NVDA]
        strategies:
          - id: trend
            class: tiny_cross
            symbols:
              - AAPL
              - MSTF
            sizing: {fixed: 10}
        """,
        "FILE:8: strategies[0].symbols[1]: symbol 'MSTF' is not in the universe"
        " (did you mean 'MSFT'?)",
    ),
    (
        "duplicate strategy ids",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            sizing: {fixed: 10}
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            sizing: {fixed: 20}
        """,
        "FILE:8: strategies[1].id: duplicate strategy id 'trend' (also strategies[0])",
    ),
    (
        "sizing with no mode",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            sizing: {}
        """,
        "FILE:7: strategies[0].sizing: set exactly one of fixed, capital, percent_nlv (got none)",
    ),
    (
        "sizing with two modes",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            sizing:
              fixed: 10
              percent_nlv: 2
        """,
        "FILE:7: strategies[0].sizing: set exactly one of fixed, capital, percent_nlv"
        " (got fixed and percent_nlv)",
    ),
    (
        "bad bar size",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            bars:
              size: 15 min
            sizing: {fixed: 10}
        """,
        "FILE:8: strategies[0].bars.size: bad bar size '15 min' (did you mean '15 mins'?);"
        " IB bar sizes: 5 secs, 10 secs, 15 secs, 30 secs, 1 min, 2 mins, 3 mins, 5 mins,"
        " 10 mins, 15 mins, 20 mins, 30 mins, 1 hour, 2 hours, 3 hours, 4 hours, 8 hours, 1 day",
    ),
    (
        "bad warm-up duration",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            bars:
              warmup: 10days
            sizing: {fixed: 10}
        """,
        "FILE:8: strategies[0].bars.warmup: bad duration '10days' (did you mean '10 D'?);"
        " IB durations are '<N> S|D|W|M|Y', e.g. '10 D'",
    ),
    (
        "zero warm-up duration: the count is named, the refused value never suggested",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            bars:
              warmup: 0 D
            sizing: {fixed: 10}
        """,
        "FILE:8: strategies[0].bars.warmup: bad duration '0 D' (the count must be 1 or more);"
        " IB durations are '<N> S|D|W|M|Y', e.g. '10 D'",
    ),
    (
        "environment variable not set",
        """
        ib:
          account: ${IB_ACCOUNT}
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            sizing: {fixed: 10}
        """,
        "FILE:2: ib.account: environment variable 'IB_ACCOUNT' is not set"
        " (set it, or write ${IB_ACCOUNT:-default} to give a default)",
    ),
    (
        "bad what_to_show",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            bars: {what_to_show: MIDPOINTS}
            sizing: {fixed: 10}
        """,
        "FILE:7: strategies[0].bars.what_to_show: bad value 'MIDPOINTS' (did you mean 'MIDPOINT'?);"
        " allowed: TRADES, MIDPOINT, BID, ASK, ADJUSTED_LAST",
    ),
    (
        "ADJUSTED_LAST kept up to date",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            bars: {what_to_show: ADJUSTED_LAST, source: keep_up_to_date}
            sizing: {fixed: 10}
        """,
        "FILE:7: strategies[0].bars: what_to_show ADJUSTED_LAST cannot be kept up to date (IB "
        "refuses keepUpToDate with it): use source: realtime",
    ),
    (
        "bad live bar source",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            bars: {size: 5 mins, source: keepUpToDate}
            sizing: {fixed: 10}
        """,
        "FILE:7: strategies[0].bars.source: bad value 'keepUpToDate'"
        " (did you mean 'keep_up_to_date'?); allowed: realtime, keep_up_to_date",
    ),
    (
        "bad tif and order type, two errors sorted by line",
        """
        executor:
          order_type: LIMIT
          tif: GTX
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            sizing: {fixed: 10}
        """,
        "FILE:2: executor.order_type: bad value 'LIMIT' (did you mean 'LMT'?); allowed: MKT, LMT\n"
        "FILE:3: executor.tif: bad value 'GTX' (did you mean 'GTC'?); allowed: DAY, GTC, IOC, OPG",
    ),
    (
        "bad logging format",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            sizing: {fixed: 10}
        logging: {level: info, format: jsonl}
        """,
        "FILE:8: logging.format: bad value 'jsonl' (did you mean 'json'?); allowed: console, json",
    ),
    (
        "IB's history pacing scaled in live mode",
        """
        ib: {history_pacing_scale: 0.01}
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            sizing: {fixed: 10}
        mode: live
        """,
        "FILE:1: ib.history_pacing_scale: history_pacing_scale 0.01 with mode 'live': IB's pacing"
        " rules cannot be scaled (the key is for a simulated gateway replaying faster; remove it)",
    ),
    (
        "bad enum value in a strategy's params",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            params: {side: longs}
            sizing: {fixed: 10}
        """,
        "FILE:7: strategies[0].params.side: bad value 'longs' (did you mean 'long'?);"
        " allowed: long, short, both",
    ),
    (
        "several problems, all listed, sorted by line",
        """
        ib:
          port: -1
        universe:
          symbols: [AAPL, AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL, TSLA]
            params: {fast: 0}
            sizing: {fixed: 10}
        mode: live
        gateway: {}
        status_interval: 5 minutes
        """,
        "FILE:2: ib.port: must be greater than or equal to 1, got -1\n"
        "FILE:4: universe.symbols[1]: duplicate symbol 'AAPL' (also universe.symbols[0])\n"
        "FILE:8: strategies[0].symbols[1]: symbol 'TSLA' is not in the universe\n"
        "FILE:9: strategies[0].params.fast: must be greater than 0, got 0\n"
        "FILE:11: mode: mode 'live' cannot use the simulated gateway"
        " (remove 'gateway' or use mode: paper)\n"
        "FILE:13: status_interval: bad interval '5 minutes';"
        " write seconds (300) or e.g. '30s', '5m', '1h'",
    ),
    (
        "missing top-level keys",
        """
        ib: {port: 4002}
        """,
        "FILE:1: missing required key 'universe'\nFILE:1: missing required key 'strategies'",
    ),
    (
        "duplicate YAML key",
        """
        ib:
          port: 4002
          client_id: 3
          port: 7497
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            sizing: {fixed: 10}
        """,
        "FILE:4: ib: duplicate key 'port' (first at line 2)",
    ),
    (
        "YAML syntax error has line and column",
        """
        universe:
          symbols: [AAPL, MSFT
        strategies: []
        """,
        "FILE:3:11: invalid YAML: expected ',' or ']', but got ':'"
        " (while parsing a flow sequence at line 2)",
    ),
    (
        "top level is not a mapping",
        """
        - universe
        - strategies
        """,
        "FILE:1: expected a mapping of settings at the top level, got a list",
    ),
    (
        "empty file",
        """
        # nothing here yet
        """,
        "FILE: the config file is empty (expected a mapping with 'universe' and 'strategies')",
    ),
    (
        "a strategy without symbols or scanner",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: gap
            class: tiny_cross
            sizing: {fixed: 10}
        """,
        "FILE:4: strategies[0]: no symbols: set 'symbols', 'scanner' or both",
    ),
    (
        "unknown scan code, closest suggested",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: gap
            class: tiny_cross
            scanner: {scan_code: HIGH_OPEN_GAPS}
            sizing: {fixed: 10}
        """,
        "FILE:6: strategies[0].scanner.scan_code: bad value 'HIGH_OPEN_GAPS' (did you mean"
        " 'HIGH_OPEN_GAP'?); allowed: TOP_PERC_GAIN, TOP_PERC_LOSE, HIGH_OPEN_GAP, LOW_OPEN_GAP,"
        " MOST_ACTIVE",
    ),
    (
        "scanner without scan code",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: gap
            class: tiny_cross
            scanner: {top: 5}
            sizing: {fixed: 10}
        """,
        "FILE:6: strategies[0].scanner: missing required key 'scan_code'",
    ),
    (
        "scanner top above IB's 50 rows",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: gap
            class: tiny_cross
            scanner: {scan_code: HIGH_OPEN_GAP, top: 51}
            sizing: {fixed: 10}
        """,
        "FILE:6: strategies[0].scanner.top: must be less than or equal to 50, got 51",
    ),
    (
        "scanner top of 0",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: gap
            class: tiny_cross
            scanner: {scan_code: HIGH_OPEN_GAP, top: 0}
            sizing: {fixed: 10}
        """,
        "FILE:6: strategies[0].scanner.top: must be greater than or equal to 1, got 0",
    ),
    (
        "scanner time unquoted: YAML reads 9:35 as a number",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: gap
            class: tiny_cross
            scanner: {scan_code: HIGH_OPEN_GAP, at: 9:35}
            sizing: {fixed: 10}
        """,
        'FILE:6: strategies[0].scanner.at: write the time in quotes, e.g. "09:35"',
    ),
    (
        "scanner time not HH:MM",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: gap
            class: tiny_cross
            scanner: {scan_code: HIGH_OPEN_GAP, at: "9:35am"}
            sizing: {fixed: 10}
        """,
        "FILE:6: strategies[0].scanner.at: bad time '9:35am';"
        " write exchange-local 'HH:MM', e.g. '09:35'",
    ),
    (
        "scanner time zone unknown",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: gap
            class: tiny_cross
            scanner: {scan_code: HIGH_OPEN_GAP, timezone: America/Nowhere}
            sizing: {fixed: 10}
        """,
        "FILE:6: strategies[0].scanner.timezone: unknown time zone 'America/Nowhere',"
        " e.g. America/New_York",
    ),
    (
        "scanner price band upside down",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: gap
            class: tiny_cross
            scanner: {scan_code: HIGH_OPEN_GAP, above_price: 50, below_price: 5}
            sizing: {fixed: 10}
        """,
        "FILE:6: strategies[0].scanner: below_price 5 must be above above_price 50",
    ),
    (
        "unknown scanner key, closest suggested",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: gap
            class: tiny_cross
            scanner: {scan_code: HIGH_OPEN_GAP, rows: 5}
            sizing: {fixed: 10}
        """,
        "FILE:6: strategies[0].scanner: unknown key 'rows'; allowed: scan_code, top, instrument,"
        " location, at, timezone, above_price, below_price, above_volume",
    ),
    (
        "no universe symbols while a strategy has fixed ones",
        """
        universe:
          defaults: {primary_exchange: NASDAQ}
        strategies:
          - id: gap
            class: tiny_cross
            scanner: {scan_code: HIGH_OPEN_GAP}
            sizing: {fixed: 10}
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            sizing: {fixed: 10}
        """,
        "FILE:1: universe: missing required key 'symbols' (only strategies with a scanner can"
        " do without)\n"
        "FILE:10: strategies[1].symbols[0]: symbol 'AAPL' is not in the universe",
    ),
    (
        "unknown commission schedule, closest suggested; negative slippage",
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            sizing: {fixed: 10}
        gateway:
          commission: ib_tierd
          slippage_ticks: -1
        """,
        "FILE:9: gateway.commission: bad value 'ib_tierd' (did you mean 'ib_tiered'?);"
        " allowed: ib_fixed, ib_tiered, none\n"
        "FILE:10: gateway.slippage_ticks: must be greater than or equal to 0, got -1",
    ),
]


@pytest.mark.parametrize(
    ("yaml_text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_bad_config_message(write: Callable[[str], Path], yaml_text: str, expected: str) -> None:
    path = write(yaml_text)
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    assert str(exc.value) == expected.replace("FILE", str(path))


def test_missing_file(tmp_path: Path) -> None:
    path = tmp_path / "nope.yaml"
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    assert str(exc.value) == f"{path}: config file not found"


def test_gateway_data_not_found(
    write: Callable[[str], Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "instruments.yaml").write_text("instruments: []\n")
    path = write(
        """
        universe:
          symbols: [AAPL]
        strategies:
          - id: trend
            class: tiny_cross
            symbols: [AAPL]
            sizing: {fixed: 10}
        gateway:
          instruments: instruments.yaml
          data: no/such/dir
        """
    )
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    assert str(exc.value) == (
        f"{path}:10: gateway.data: not found: 'no/such/dir' (looked in {tmp_path})"
    )


def test_a_scanner_only_strategy_needs_no_universe_symbols(write: Callable[[str], Path]) -> None:
    cfg = load_config(
        write(
            """
            universe:
              defaults: {primary_exchange: NASDAQ}
            strategies:
              - id: gap
                class: tiny_cross
                scanner: {scan_code: HIGH_OPEN_GAP, top: 3, at: "09:35"}
                sizing: {fixed: 10}
            """
        ),
        env={},
    )
    (strategy,) = cfg.strategies
    assert cfg.universe.symbols == [] and strategy.symbols == []
    assert strategy.scanner is not None
    assert (strategy.scanner.top, strategy.scanner.at_time.hour, strategy.scanner.location) == (
        3, 9, "STK.US.MAJOR",
    )  # fmt: skip


def test_good_file_is_accepted(write: Callable[[str], Path]) -> None:
    # Guards the cases above: GOOD is valid, so each case fails only for its own edit.
    assert load_config(write(GOOD), env={}).strategies[0].id == "trend"


# --- `ibbot check` as a subprocess ---------------------------------------------------------------

PLUGIN = """
from pydantic import BaseModel, ConfigDict

from bot.strategy.registry import register
from bot.strategy.api import Strategy


class Params(BaseModel):
    model_config = ConfigDict(extra="forbid")
    fast: int = 5
    slow: int = 20


@register("tiny_cross")
class TinyCross(Strategy[Params]):
    Params = Params
"""


def _check(tmp_path: Path, config: Path) -> subprocess.CompletedProcess[str]:
    """Run `python -m bot check`, with a test strategy installed as an entry-point plugin."""
    plugin = tmp_path / "plugin"
    dist = plugin / "ibbot_cfgtest-0.1.dist-info"
    dist.mkdir(parents=True, exist_ok=True)
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: ibbot-cfgtest\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[ibbot.strategies]\ntiny_cross = ibbot_cfgtest\n")
    (plugin / "ibbot_cfgtest.py").write_text(textwrap.dedent(PLUGIN))
    env = {**os.environ, "PYTHONPATH": str(plugin)}
    env.pop("IB_ACCOUNT", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", "check", str(config)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_check_command(write: Callable[[str], Path], tmp_path: Path) -> None:
    good = _check(tmp_path, write(GOOD, "good.yaml"))
    assert good.returncode == 0, good.stderr
    assert good.stderr == ""
    out = good.stdout
    assert out.startswith(f"# {tmp_path / 'good.yaml'}: OK (1 strategy, 3 symbols)")
    for resolved in (
        "  port: 4002\n",  # ib defaults
        "  - symbol: EUR\n    sec_type: CASH\n    exchange: IDEALPRO\n    currency: USD\n",
        "    size: 15 mins\n",  # bar spec defaults
        "    warmup: 10 D\n",
        "    fast: 3\n    slow: 20\n",  # params with the class's defaults
        "  max_orders_per_minute: 60\n",
        "  tif: DAY\n",
        f"  path: {tmp_path / 'runs' / 'journal.sqlite'}\n",
    ):
        assert resolved in out

    bad = _check(tmp_path, write(GOOD.replace("{fast: 3}", "{fsat: 3}"), "bad.yaml"))
    assert bad.returncode == 2
    assert bad.stdout == ""
    assert bad.stderr == (
        f"{tmp_path / 'bad.yaml'}:7: strategies[0].params: "
        "unknown key 'fsat' (did you mean 'fast'?)\n"
    )
