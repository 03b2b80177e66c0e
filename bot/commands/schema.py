"""``ibbot schema``: the config's JSON schema, for editor completion and validation.

Strategy params depend on the strategy class, so each registered class's ``Params`` schema is
added under ``$defs`` as ``params.<name>`` and selected by ``class`` with ``if``/``then``.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from bot.config.bot_config import BotConfig
from bot.strategy import registry

_DIALECT = "https://json-schema.org/draft/2020-12/schema"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--indent", type=int, default=2, help="JSON indent (default 2)")


def _rename_refs(node: Any, renames: dict[str, str]) -> Any:
    if isinstance(node, dict):
        return {
            k: renames.get(v, v) if k == "$ref" else _rename_refs(v, renames)
            for k, v in node.items()
        }
    if isinstance(node, list):
        return [_rename_refs(v, renames) for v in node]
    return node


def _add_params(schema: dict[str, Any], name: str, params: dict[str, Any]) -> str:
    """Put one class's Params schema (and its nested defs, namespaced) into ``$defs``."""
    key = f"params.{name}"
    nested = params.pop("$defs", {})
    renames = {f"#/$defs/{d}": f"#/$defs/{key}.{d}" for d in nested}
    defs = schema.setdefault("$defs", {})
    for d, sub in nested.items():
        defs[f"{key}.{d}"] = _rename_refs(sub, renames)
    defs[key] = _rename_refs(params, renames)
    return key


def build_schema() -> dict[str, Any]:
    schema = BotConfig.model_json_schema(by_alias=True)
    strategy = schema["$defs"]["StrategyConfig"]
    names = registry.known()
    branches = []
    for name in names:
        key = _add_params(schema, name, registry.get(name).Params.model_json_schema(by_alias=True))
        branches.append(
            {
                "if": {"properties": {"class": {"const": name}}, "required": ["class"]},
                "then": {"properties": {"params": {"$ref": f"#/$defs/{key}"}}},
            }
        )
    if names:
        strategy["properties"]["class"]["enum"] = names
        strategy["allOf"] = branches
    return {"$schema": _DIALECT, **schema}


def run(args: argparse.Namespace) -> int:
    print(json.dumps(build_schema(), indent=args.indent))
    return 0
