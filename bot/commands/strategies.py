"""``ibbot strategies``: the registered strategies and their parameters, read from the code.

Each parameter's type, default and description come from the strategy's ``Params`` model, so
the listing (and the README table printed by ``--markdown``) cannot go stale.
"""

from __future__ import annotations

import argparse
import enum
import inspect
import sys
import types
from dataclasses import dataclass
from datetime import time
from typing import Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel

from bot.strategy import registry
from bot.strategy.api import Strategy


@dataclass(frozen=True, slots=True)
class ParamDoc:
    name: str
    type: str
    default: str
    description: str


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("names", nargs="*", metavar="NAME", help="only these strategies")
    p.add_argument(
        "--markdown", action="store_true", help="print the README's Markdown tables instead"
    )


def run(args: argparse.Namespace) -> int:
    try:
        classes = [registry.get(n) for n in args.names or registry.known()]
    except registry.UnknownStrategyError as e:
        print(f"ibbot strategies: {e}", file=sys.stderr)
        return 2
    render = markdown if args.markdown else text
    print("\n\n".join(render(cls) for cls in classes))
    return 0


def summary(cls: type[Strategy]) -> str:
    """The first paragraph of the class docstring, on one line."""
    doc = inspect.getdoc(cls) or ""
    return " ".join(doc.split("\n\n")[0].split())


def param_docs(params: type[BaseModel]) -> list[ParamDoc]:
    return [
        ParamDoc(
            name,
            type_name(field.annotation),
            "(required)" if field.is_required() else yaml_value(field.get_default()),
            " ".join((field.description or "").split()),
        )
        for name, field in params.model_fields.items()
    ]


def text(cls: type[Strategy]) -> str:
    rows = [("PARAM", "TYPE", "DEFAULT", "DESCRIPTION")]
    rows += [(d.name, d.type, d.default, d.description) for d in param_docs(cls.Params)]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = [f"{cls.name}: {summary(cls)}"]
    for r in rows:
        cells = [c.ljust(w) for c, w in zip(r, widths, strict=False)]
        lines.append("  " + "  ".join([*cells, r[3]]).rstrip())
    if len(rows) == 1:
        lines.append("  (no parameters)")
    return "\n".join(lines)


def markdown(cls: type[Strategy]) -> str:
    lines = [f"### `{cls.name}`", "", _cell(summary(cls)), ""]
    docs = param_docs(cls.Params)
    if not docs:
        return "\n".join([*lines, "No parameters."])
    lines += ["| Parameter | Type | Default | Description |", "|---|---|---|---|"]
    for d in docs:
        lines.append(f"| `{d.name}` | {_cell(d.type)} | `{d.default}` | {_cell(d.description)} |")
    return "\n".join(lines)


def _cell(s: str) -> str:
    return s.replace("|", "\\|")


def type_name(tp: Any) -> str:
    """``int``, ``float | None``, ``"sma" | "ema"``: how a YAML writer thinks of the type."""
    origin = get_origin(tp)
    if origin is Literal:
        return " | ".join(yaml_value(a) for a in get_args(tp))
    if origin in (Union, types.UnionType):
        return " | ".join(type_name(a) for a in get_args(tp))
    if tp is type(None):
        return "null"
    if origin is not None and get_args(tp) and getattr(tp, "__metadata__", None) is not None:
        return type_name(get_args(tp)[0])  # Annotated[T, validators...]
    if origin is not None:
        return f"{type_name(origin)}[{', '.join(type_name(a) for a in get_args(tp))}]"
    return getattr(tp, "__name__", str(tp))


def yaml_value(v: Any) -> str:
    """A default as it would be written in the YAML config."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, enum.Enum):
        v = v.value
    if isinstance(v, time):
        return f'"{v:%H:%M}"' if not v.second else f'"{v:%H:%M:%S}"'
    if isinstance(v, str):
        return f'"{v}"'
    if isinstance(v, list | tuple):
        return "[" + ", ".join(yaml_value(x) for x in v) + "]"
    return str(v)
