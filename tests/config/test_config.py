"""Good configs: defaults, the resolved universe, ${VAR} substitution, typed params, paths,
the schema command, and a resolved config that loads back unchanged."""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from bot.commands import check, schema
from bot.config.bars import BarSpec, TickSpec
from bot.config.env import substitute
from bot.config.errors import ConfigError
from bot.config.gateway import GatewaySettings
from bot.config.ib import IBConfig
from bot.config.load import load_config
from bot.config.strategies import Sizing
from bot.config.universe import SymbolConfig
from bot.model.events import OrderType
from bot.strategy import registry
from bot.strategy.api import Strategy

Write = Callable[..., Path]

MINIMAL = """
universe:
  symbols: [AAPL]
strategies:
  - id: trend
    class: tiny_cross
    symbols: [AAPL]
    sizing: {fixed: 10}
"""


def test_defaults(write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    cfg = load_config(write(MINIMAL), env={})
    assert cfg.ib == IBConfig(host="127.0.0.1", port=4002, client_id=1, account=None)
    assert (cfg.mode, cfg.dry_run, cfg.gateway) == ("paper", False, None)
    s = cfg.strategies[0]
    assert (s.class_, s.bars.size, s.bars.size_s, s.bars.warmup) == (
        "tiny_cross",
        "15 mins",
        900,
        "10 D",
    )
    assert (s.bars.what_to_show, s.bars.use_rth, s.ticks, s.enabled, s.on_error) == (
        "TRADES",
        True,
        None,
        True,
        "disable",
    )
    assert s.sizing == Sizing(fixed=10)
    assert s.params == {"fast": 5, "slow": 20, "side": "long"}  # the class's defaults, filled in
    assert cfg.risk.max_orders_per_minute == 60
    assert cfg.risk.allowed_order_types == tuple(OrderType)
    assert (cfg.executor.order_type, cfg.executor.tif, cfg.executor.cancel_on_stop) == (
        "MKT",
        "DAY",
        True,
    )
    assert cfg.journal.path == tmp_path / "runs" / "journal.sqlite"
    assert (cfg.logging.level, cfg.logging.format) == ("INFO", "console")
    assert cfg.status_interval_s == 300


def test_universe_resolution(write: Write) -> None:
    cfg = load_config(
        write(
            """
            universe:
              defaults: {exchange: SMART, currency: USD, primary_exchange: NASDAQ}
              symbols:
                - AAPL
                - EUR.USD
                - {symbol: SAP, currency: EUR, exchange: IBIS, primary_exchange: null}
                - {symbol: GBP, sec_type: CASH, currency: JPY, exchange: IDEALPRO}
            strategies:
              - id: fx
                class: tiny_cross
                symbols: [EUR.USD, GBP.JPY, AAPL]
                sizing: {percent_nlv: 2.5}
            """
        ),
        env={},
    )
    u = cfg.universe
    assert u.symbols == [
        SymbolConfig(symbol="AAPL", primary_exchange="NASDAQ"),
        SymbolConfig(symbol="EUR", sec_type="CASH", exchange="IDEALPRO", currency="USD"),
        SymbolConfig(symbol="SAP", exchange="IBIS", currency="EUR"),
        SymbolConfig(symbol="GBP", sec_type="CASH", exchange="IDEALPRO", currency="JPY"),
    ]
    assert u.names() == ["AAPL", "EUR.USD", "SAP", "GBP.JPY"]
    eur = u.get("EUR.USD").contract()
    assert (eur.secType, eur.symbol, eur.currency, eur.exchange) == (
        "CASH",
        "EUR",
        "USD",
        "IDEALPRO",
    )
    assert u.get("AAPL").contract().primaryExchange == "NASDAQ"
    with pytest.raises(KeyError):
        u.get("MSFT")


def test_env_substitution(write: Write) -> None:
    path = write(
        """
        ib:
          host: ${IB_HOST:-localhost}
          port: ${IB_PORT}
          account: ${IB_ACCOUNT:-}
        universe:
          symbols: [AAPL, "${EXTRA}"]
        strategies:
          - id: trend-${SUFFIX:-x}
            class: tiny_cross
            symbols: [AAPL]
            sizing: {fixed: 10}
        executor:
          order_ref_prefix: bot$${literal}
        """
    )
    with pytest.raises(ConfigError):  # `$${` keeps "${literal}", which is not a valid prefix
        load_config(path, env={"IB_PORT": "4001", "EXTRA": "MSFT"})
    text = path.read_text().replace("bot$${literal}", "bot")
    path.write_text(text)
    cfg = load_config(path, env={"IB_PORT": "4001", "EXTRA": "MSFT", "IB_HOST": ""})
    assert (cfg.ib.host, cfg.ib.port, cfg.ib.account) == ("localhost", 4001, None)
    assert cfg.universe.names() == ["AAPL", "MSFT"]
    assert cfg.strategies[0].id == "trend-x"


def test_substitute_rules() -> None:
    env = {"A": "1", "EMPTY": ""}
    assert substitute("x${A}y${EMPTY}z", env) == ("x1yz", [])
    assert substitute("${EMPTY:-d} ${NOPE:-d2} $${A}", env) == ("d d2 ${A}", [])
    assert substitute("${1A}", env)[1] == [
        "bad variable reference '${1A}' (write ${NAME} or ${NAME:-default})"
    ]
    assert substitute("${A", env)[1] == [
        "unterminated '${' (write ${NAME} or ${NAME:-default}; $${ for a literal)"
    ]


def test_typed_params(write: Write) -> None:
    cfg = load_config(
        write(MINIMAL.replace("sizing:", "params: {fast: 2, side: both}\n    sizing:")), env={}
    )
    s = cfg.strategies[0]
    assert s.strategy_class() is registry.get("tiny_cross")
    assert s.typed_params() == s.strategy_class().Params(fast=2, slow=20, side="both")


def test_paths_resolve_cwd_first_then_config_dir(
    write: Write, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    conf_dir = tmp_path / "conf"
    (conf_dir / "data").mkdir(parents=True)
    (conf_dir / "inst.yaml").write_text("{}")
    work = tmp_path / "work"
    (work / "data").mkdir(parents=True)
    monkeypatch.chdir(work)
    text = (
        MINIMAL + "gateway:\n  data: data\n  instruments: inst.yaml\n  start: 2024-03-08 14:30:00\n"
    )
    path = write(text, "conf/bot.yaml")
    gw = load_config(path, env={}).gateway
    assert gw is not None
    assert gw.data == work / "data"  # exists in the cwd: taken from there
    assert gw.instruments == conf_dir / "inst.yaml"  # only next to the config
    assert gw.start == datetime(2024, 3, 8, 14, 30, tzinfo=UTC)  # naive means UTC
    assert (gw.speed, gw.seed, gw.account, gw.cash) == (600, 1, "DU1234567", 1_000_000)


def test_gateway_start_date_and_timezone() -> None:
    gw = GatewaySettings.model_validate({"start": "2024-03-08T09:30:00-05:00"})
    assert gw.start == datetime(2024, 3, 8, 14, 30, tzinfo=UTC)
    gw = GatewaySettings.model_validate({"start": datetime(2024, 3, 8).date()})
    assert gw.start == datetime(2024, 3, 8, tzinfo=UTC)


def test_models_are_frozen_and_strict(write: Write) -> None:
    cfg = load_config(write(MINIMAL), env={})
    with pytest.raises(ValidationError):
        cfg.ib.port = 1  # type: ignore[misc]
    with pytest.raises(ValidationError):
        IBConfig.model_validate({"prot": 1})


def test_yaml_features(write: Write) -> None:
    # Anchors and merge keys work; a key like `on` stays a name (YAML 1.1 would make it True).
    path = write(
        """
        universe:
          symbols: [AAPL, MSFT]
        strategies:
          - &first
            id: a
            class: tiny_cross
            symbols: [AAPL]
            sizing: {capital: 5000}
          - <<: *first
            id: b
            symbols: [MSFT]
            sizing: {fixed: 1}
        logging:
          on: yes
        """
    )
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    allowed = "level, format, file, max_bytes, backups"
    assert str(exc.value) == f"{path}:14: logging: unknown key 'on'; allowed: {allowed}"
    path.write_text(path.read_text().replace("logging:\n  on: yes\n", ""))
    cfg = load_config(path, env={})
    a, b = cfg.strategies
    assert (a.id, a.sizing.capital, b.id, b.class_, b.sizing.fixed) == (
        "a",
        5000,
        "b",
        "tiny_cross",
        1,
    )


def test_live_mode_is_accepted(write: Write) -> None:
    assert load_config(write(MINIMAL + "mode: live\n"), env={}).mode == "live"


def test_check_output_loads_back_unchanged(
    write: Write, capsys: pytest.CaptureFixture[str]
) -> None:
    path = write(
        MINIMAL.replace("[AAPL]\nstrategies", "[AAPL, EUR.USD]\nstrategies")
        + "status_interval: 90\n"
    )
    assert check.run(argparse.Namespace(config=path)) == 0
    out = capsys.readouterr().out
    resolved = write(out, "resolved.yaml")
    assert load_config(resolved, env={}) == load_config(path, env={})
    assert yaml.safe_load(out)["universe"]["symbols"][1]["sec_type"] == "CASH"


def test_check_reports_errors(write: Write, capsys: pytest.CaptureFixture[str]) -> None:
    path = write(MINIMAL.replace("fixed: 10", "fixed: ten"))
    assert check.run(argparse.Namespace(config=path)) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err == f"{path}:7: strategies[0].sizing.fixed: expected an integer, got 'ten'\n"


def test_schema_has_each_strategy_params(capsys: pytest.CaptureFixture[str]) -> None:
    class Leg(BaseModel):
        qty: int = 1

    class Nested(BaseModel):
        legs: list[Leg] = []

    class NestedStrategy(Strategy[Nested]):
        Params = Nested

    registry.register("nested")(NestedStrategy)
    assert schema.run(argparse.Namespace(indent=None)) == 0
    doc = json.loads(capsys.readouterr().out)
    defs = doc["$defs"]
    strategy = defs["StrategyConfig"]
    assert strategy["properties"]["class"]["enum"] == ["macd_stochastic", "nested", "tiny_cross"]
    assert "class" in strategy["required"] and "class_" not in strategy["properties"]
    assert defs["params.tiny_cross"]["properties"]["side"]["enum"] == ["long", "short", "both"]
    assert defs["params.macd_stochastic"]["required"] == ["k_period"]
    assert defs["params.nested"]["properties"]["legs"]["items"] == {
        "$ref": "#/$defs/params.nested.Leg"
    }
    assert "params.nested.Leg" in defs
    branch = strategy["allOf"][2]
    assert branch["if"]["properties"]["class"] == {"const": "tiny_cross"}
    assert branch["then"]["properties"]["params"] == {"$ref": "#/$defs/params.tiny_cross"}
    items = defs["UniverseConfig"]["properties"]["symbols"]["items"]
    assert items == {"anyOf": [{"type": "string"}, {"$ref": "#/$defs/SymbolConfig"}]}


def test_shipped_paper_config(monkeypatch: pytest.MonkeyPatch) -> None:
    # The strategies piece ships sma_crossover; a stand-in with defaults is enough here.
    class SmaParams(BaseModel):
        model_config = ConfigDict(extra="forbid")
        fast: int
        slow: int
        mode: str

    class Sma(Strategy[SmaParams]):
        Params = SmaParams

    registry.register("sma_crossover")(Sma)
    path = Path(__file__).parents[2] / "config" / "paper.yaml"
    cfg = load_config(path, env={"IB_ACCOUNT": "DU7654321"})
    assert (cfg.ib.port, cfg.ib.account, cfg.mode) == (4002, "DU7654321", "paper")
    assert cfg.universe.names() == ["AAPL", "MSFT", "NVDA"]
    assert [s.class_ for s in cfg.strategies] == ["sma_crossover"]
    assert load_config(path, env={}).ib.account is None


@pytest.mark.parametrize(
    ("warmup", "hint"),
    [
        ("0 D", " (the count must be 1 or more)"),  # once: "(did you mean '0 D'?)"
        ("00 d", " (the count must be 1 or more)"),
        ("10days", " (did you mean '10 D'?)"),
        ("010 D", " (did you mean '10 D'?)"),
        (" 5 W ", " (did you mean '5 W'?)"),
        ("2 w", " (did you mean '2 W'?)"),
        ("ten days", ""),
        ("10 H", ""),  # hours are no IB duration unit: nothing to suggest
        ("10 mins", ""),  # nor minutes (once: "did you mean '10 M'", i.e. months)
        ("3 Months", " (did you mean '3 M'?)"),
    ],
)
def test_a_duration_error_never_suggests_a_bad_value(warmup: str, hint: str) -> None:
    with pytest.raises(ValidationError) as err:
        BarSpec(warmup=warmup)
    message = err.value.errors()[0]["msg"]
    assert message == (
        f"Value error, bad duration {warmup!r}{hint}; IB durations are '<N> S|D|W|M|Y', e.g. '10 D'"
    )
    suggested = re.search(r"did you mean '([^']*)'", message)
    if suggested:
        assert suggested[1] != warmup and BarSpec(warmup=suggested[1]).warmup == suggested[1]


def test_embedded_gateway_gets_the_configured_broker(
    write: Write, monkeypatch: pytest.MonkeyPatch
) -> None:
    """gateway.commission / slippage_ticks / participation reach the embedded gateway's broker."""
    import logging

    from bot.cli import main
    from bot.gateway.server import Gateway
    from bot.sim.broker import BrokerConfig

    seen: list[BrokerConfig] = []

    def record(self: Gateway, config: object, **kw: object) -> None:
        seen.append(config.broker)  # type: ignore[attr-defined]
        raise OSError("stop before loading the market")

    monkeypatch.setattr(Gateway, "__init__", record)
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    gateway = "gateway:\n  commission: ib_tiered\n  slippage_ticks: 1.5\n  participation: 0.2\n"
    try:
        assert main(["run", str(write(MINIMAL + gateway))]) != 0
    finally:
        root.handlers[:] = handlers  # `ibbot run` installs its own handlers
        root.setLevel(level)
    assert seen == [BrokerConfig.of(0.2, 1.5, "ib_tiered")]
    assert seen[0].commission.schedule == "ib_tiered" and seen[0].slippage_ticks == 1.5


@pytest.mark.parametrize(
    ("ticks", "expected", "tick_by_tick"),
    [
        ("false", None, None),
        ("true", TickSpec(kind="market_data"), None),  # today's market-data ticks
        ("{kind: market_data}", TickSpec(kind="market_data"), None),
        ("{kind: tick_by_tick, what: AllLast}", TickSpec(kind="tick_by_tick", what="AllLast"),
         "AllLast"),
        ("{kind: tick_by_tick, what: BidAsk}", TickSpec(kind="tick_by_tick", what="BidAsk"),
         "BidAsk"),
        ("{kind: tick_by_tick, what: MidPoint}", TickSpec(kind="tick_by_tick", what="MidPoint"),
         "MidPoint"),
    ],
)  # fmt: skip
def test_ticks_market_data_or_tick_by_tick(
    write: Write, ticks: str, expected: TickSpec | None, tick_by_tick: str | None
) -> None:
    cfg = load_config(write(MINIMAL + f"    ticks: {ticks}\n"), env={})
    s = cfg.strategies[0]
    assert s.ticks == expected
    assert (s.ticks.tick_by_tick if s.ticks else None) == tick_by_tick
