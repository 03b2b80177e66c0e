"""Strategy registry: ``@register("name")`` on a class, discovery of ``strategies/``, and the
``ibbot.strategies`` entry-point group for strategies shipped in other installed packages."""

from __future__ import annotations

import difflib
import importlib
import pkgutil
from collections.abc import Callable
from importlib.metadata import entry_points
from typing import TypeVar

from bot.strategy.api import Strategy

ENTRY_POINT_GROUP = "ibbot.strategies"

S = TypeVar("S", bound=type[Strategy])

_registry: dict[str, type[Strategy]] = {}
_discovered = False


class UnknownStrategyError(LookupError):
    pass


def register(name: str) -> Callable[[S], S]:
    """Class decorator: make a strategy available under ``name`` in configs."""

    def wrap(cls: S) -> S:
        existing = _registry.get(name)
        if existing is not None and existing is not cls:
            raise ValueError(
                f"strategy name {name!r} is taken by {existing.__module__}.{existing.__qualname__}"
            )
        cls.name = name
        _registry[name] = cls
        return cls

    return wrap


def discover() -> None:
    """Import every module of the ``strategies`` package and every entry point, once."""
    global _discovered
    if _discovered:
        return
    _discovered = True
    import strategies

    for info in pkgutil.iter_modules(strategies.__path__, prefix="strategies."):
        importlib.import_module(info.name)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        ep.load()


def known() -> list[str]:
    discover()
    return sorted(_registry)


def get(name: str) -> type[Strategy]:
    discover()
    try:
        return _registry[name]
    except KeyError:
        close = difflib.get_close_matches(name, _registry, n=1)
        hint = f" (did you mean {close[0]!r}?)" if close else ""
        raise UnknownStrategyError(
            f"unknown strategy {name!r}{hint}; known strategies: {', '.join(known())}"
        ) from None
