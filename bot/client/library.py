"""Which IB client library the bot talks through: ib_insync (default) or ib_async.

The choice is made once per process, before the first import of ``bot.client.ib`` (the one
module that imports the library): ``select(name)`` checks the library is installed and not
contradicted by the one already loaded, then sets ``IBBOT_IB_LIBRARY``, which
``bot.client.ib`` reads on import. This module imports neither library, so the config layer and
the commands can call it before anything else is loaded.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from typing import Literal, get_args

Library = Literal["ib_insync", "ib_async"]
LIBRARIES: tuple[str, ...] = get_args(Library)
DEFAULT: Library = "ib_insync"
ENV = "IBBOT_IB_LIBRARY"
# How each one is installed, for the error when it is missing.
INSTALL = {"ib_insync": "pip install ib_insync", "ib_async": "pip install 'ibbot[ib_async]'"}


class LibraryError(RuntimeError):
    """The library asked for cannot be used in this process (bad input: exit 2)."""


def wanted(configured: str | None = None) -> str:
    """The config's choice, else ``IBBOT_IB_LIBRARY``, else ib_insync; LibraryError if unknown."""
    name = configured or os.environ.get(ENV) or DEFAULT
    if name not in LIBRARIES:
        source = "ib.library" if configured else ENV
        raise LibraryError(
            f"{source}: unknown IB client library {name!r} (one of: {', '.join(LIBRARIES)})"
        )
    return name


def installed(name: str) -> bool:
    return importlib.util.find_spec(name) is not None


def loaded() -> str | None:
    """The library ``bot.client.ib`` was imported with, or None before its first import."""
    module = sys.modules.get("bot.client.ib")
    return None if module is None else str(module.LIBRARY)


def select(configured: str | None = None) -> str:
    """Make ``configured`` (or the environment's / the default choice) this process's library.

    LibraryError if it is not installed, or if ``bot.client.ib`` was already imported with the
    other one (a process talks through one library)."""
    name = wanted(configured)
    if not installed(name):
        raise LibraryError(
            f"ib.library: {name} is not installed in this Python ({sys.executable}); "
            f"install it with: {INSTALL[name]}"
        )
    current = loaded()
    if current is not None and current != name:
        raise LibraryError(
            f"ib.library: {name} asked for, but this process already talks through {current} "
            f"(set {ENV}={name} before starting it, or run the command in its own process)"
        )
    os.environ[ENV] = name
    return name
