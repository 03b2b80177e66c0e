"""``${VAR}`` and ``${VAR:-default}`` in config strings, so secrets stay out of the file.

Shell semantics: ``:-`` applies when the variable is unset or empty; ``$${`` writes a literal
``${``. The result stays a string; pydantic converts ``"4002"`` to an int where one is wanted.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

_REFERENCE = re.compile(r"\$\$\{|\$\{([^}]*)\}|\$\{")
_INSIDE = re.compile(r"([A-Za-z_][A-Za-z0-9_]*)(?::-(.*))?", re.DOTALL)


def substitute(text: str, env: Mapping[str, str]) -> tuple[str, list[str]]:
    """Return ``text`` with references replaced, and a message per reference that failed."""
    problems: list[str] = []

    def replace(match: re.Match[str]) -> str:
        whole = match.group(0)
        if whole == "$${":
            return "${"
        inside = match.group(1)
        if inside is None:
            problems.append(
                "unterminated '${' (write ${NAME} or ${NAME:-default}; $${ for a literal)"
            )
            return whole
        parsed = _INSIDE.fullmatch(inside)
        if parsed is None:
            problems.append(
                f"bad variable reference {whole!r} (write ${{NAME}} or ${{NAME:-default}})"
            )
            return whole
        name, default = parsed.group(1), parsed.group(2)
        value = env.get(name)
        if default is not None:
            return value if value else default
        if value is None:
            problems.append(
                f"environment variable {name!r} is not set "
                f"(set it, or write ${{{name}:-default}} to give a default)"
            )
            return whole
        return value

    return _REFERENCE.sub(replace, text), problems
