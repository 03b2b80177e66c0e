"""``load_config(path)``: a YAML file validated into a BotConfig.

It reads the file (keeping the line of every key), substitutes ``${VAR}`` / ``${VAR:-default}``
in strings, validates, and checks what one model cannot see alone (strategy classes and their
params, symbols against the universe, unique ids). Every problem found is reported at once by
``ConfigError``, one ``file:line: key.path: message`` per line.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from bot.config.bot_config import BotConfig
from bot.config.errors import ConfigError, ConfigIssue, KeyPath, Problem, describe, render_path
from bot.config.errors import did_you_mean as _did_you_mean
from bot.config.risk import RiskLimits
from bot.config.universe import resolve_symbol, usable_defaults
from bot.config.yaml_lines import LoadedYaml, load_yaml
from bot.strategy import registry


def load_config(path: Path, *, env: Mapping[str, str] | None = None) -> BotConfig:
    """Read, substitute, validate; raise ConfigError listing every problem."""
    loaded = load_yaml(Path(path), os.environ if env is None else env)
    problems = _cross_checks(loaded.data)
    try:
        config = BotConfig.model_validate(loaded.data, context={"config_dir": Path(path).parent})
    except ValidationError as exc:
        problems += [describe(err, BotConfig) for err in exc.errors()]
        config = None
    issues = loaded.issues + [_issue(str(path), loaded, p) for p in problems]
    if issues or config is None:
        raise ConfigError(issues)
    return _with_typed_params(config)


def _issue(file: str, loaded: LoadedYaml, p: Problem) -> ConfigIssue:
    return ConfigIssue(file, p.message, loaded.line_of(p.line_loc), path=render_path(p.shown_loc))


def _with_typed_params(config: BotConfig) -> BotConfig:
    # Store each strategy's params validated and with its defaults, as `check` should show them,
    # and its risk limits with those its params ask for (Strategy.risk_limits) folded in.
    strategies = []
    for s in config.strategies:
        typed = s.typed_params()
        asked = s.strategy_class().risk_limits(typed)
        update: dict[str, Any] = {"params": typed.model_dump(by_alias=True)}
        if asked:
            update["risk"] = RiskLimits.model_validate(
                {**asked, **s.risk.model_dump(exclude_unset=True)}
            )
        strategies.append(s.model_copy(update=update))
    return config.model_copy(update={"strategies": strategies})


def _raw_symbol_names(raw: dict[str, Any]) -> list[tuple[int, str]] | None:
    """(index, name) of each well-formed universe entry; None when there is no usable list."""
    universe = raw.get("universe")
    if not isinstance(universe, dict) or not isinstance(universe.get("symbols", []), list):
        return None
    defaults = usable_defaults(universe.get("defaults"))
    out = []
    for j, entry in enumerate(universe.get("symbols", [])):
        full = resolve_symbol(entry, defaults)
        if isinstance(full, dict) and isinstance(full.get("symbol"), str):
            cash = full.get("sec_type") == "CASH"
            out.append((j, f"{full['symbol']}.{full.get('currency')}" if cash else full["symbol"]))
    return out


def _cross_checks(raw: dict[str, Any]) -> list[Problem]:
    """What no single model can see; tolerant of malformed parts (pydantic reports those)."""
    problems: list[Problem] = []
    if raw.get("mode") == "live" and raw.get("gateway") is not None:
        msg = "mode 'live' cannot use the simulated gateway (remove 'gateway' or use mode: paper)"
        problems.append(Problem(("mode",), ("mode",), msg))
    ib = raw.get("ib")
    scale = ib.get("history_pacing_scale") if isinstance(ib, dict) else None
    if raw.get("mode") == "live" and isinstance(scale, int | float) and scale != 1:
        key = ("ib", "history_pacing_scale")
        msg = (
            f"history_pacing_scale {scale} with mode 'live': IB's pacing rules cannot be "
            "scaled (the key is for a simulated gateway replaying faster; remove it)"
        )
        problems.append(Problem(key, key, msg))
    symbols = _raw_symbol_names(raw)
    problems += _empty_universe(raw, symbols)
    first: dict[str, int] = {}
    for j, name in symbols or []:
        if name in first:
            loc = ("universe", "symbols", j)
            msg = f"duplicate symbol {name!r} (also universe.symbols[{first[name]}])"
            problems.append(Problem(loc, loc, msg))
        first.setdefault(name, j)
    strategies = raw.get("strategies")
    if not isinstance(strategies, list):
        return problems
    names = None if symbols is None else list(first)
    seen: dict[str, int] = {}
    for i, strategy in enumerate(strategies):
        if isinstance(strategy, dict):
            problems += _strategy_checks(("strategies", i), strategy, names, seen)
    return problems


def _empty_universe(raw: dict[str, Any], symbols: list[tuple[int, str]] | None) -> list[Problem]:
    """An empty universe is fine only when every strategy scans for its symbols."""
    universe, strategies = raw.get("universe"), raw.get("strategies")
    if symbols or symbols is None or not isinstance(strategies, list):
        return []
    if not any(isinstance(s, dict) and s.get("scanner") is None for s in strategies):
        return []
    assert isinstance(universe, dict)
    given = "symbols" in universe
    loc = ("universe", "symbols") if given else ("universe",)
    msg = "must not be empty" if given else "missing required key 'symbols'"
    return [Problem(loc, loc, f"{msg} (only strategies with a scanner can do without)")]


def _strategy_checks(
    base: KeyPath, raw: dict[str, Any], names: list[str] | None, seen: dict[str, int]
) -> list[Problem]:
    problems: list[Problem] = []
    sid = raw.get("id")
    if isinstance(sid, str):
        if sid in seen:
            loc = (*base, "id")
            problems.append(
                Problem(loc, loc, f"duplicate strategy id {sid!r} (also strategies[{seen[sid]}])")
            )
        seen.setdefault(sid, int(base[-1]))
    name = raw.get("class")
    if isinstance(name, str):
        problems += _class_checks(base, name, raw.get("params"))
    symbols = raw.get("symbols")
    if isinstance(symbols, list) and names is not None:
        for j, sym in enumerate(symbols):
            loc = (*base, "symbols", j)
            if isinstance(sym, str) and sym not in names:
                hint = _did_you_mean(sym, names)
                problems.append(Problem(loc, loc, f"symbol {sym!r} is not in the universe{hint}"))
            elif isinstance(sym, str) and symbols.index(sym) != j:
                problems.append(Problem(loc, loc, f"symbol {sym!r} is listed twice"))
    return problems


def _class_checks(base: KeyPath, name: str, params: Any) -> list[Problem]:
    try:
        cls = registry.get(name)
    except registry.UnknownStrategyError:
        loc = (*base, "class")
        known = registry.known()
        msg = f"unknown strategy {name!r}{_did_you_mean(name, known)}; known: {', '.join(known)}"
        return [Problem(loc, loc, msg)]
    if params is None:
        params = {}
    if not isinstance(params, dict):
        return []  # pydantic reports the type
    try:
        cls.Params.model_validate(params)
    except ValidationError as exc:
        return [describe(err, cls.Params, prefix=(*base, "params")) for err in exc.errors()]
    return []
