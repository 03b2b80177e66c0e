"""Config errors an operator can act on: ``file:line: key.path: what is wrong (did you mean ...)``.

Pydantic reports problems by ``loc`` (a key path); the YAML loader knows the line of every key
and list item, so each problem is pinned to the line that holds it and phrased in config terms.
"""

from __future__ import annotations

import difflib
import enum
import types
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any, Literal, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

KeyPath = tuple[str | int, ...]


@dataclass(frozen=True, slots=True)
class ConfigIssue:
    """One problem in a config file; ``str()`` is the line the operator reads."""

    file: str
    message: str
    line: int | None = None
    col: int | None = None
    path: str = ""

    def __str__(self) -> str:
        where = self.file
        if self.line is not None:
            where += f":{self.line}"
            if self.col is not None:
                where += f":{self.col}"
        return f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"


class ConfigError(ValueError):
    """A config file that cannot be used; ``str()`` lists every problem, one per line, by line."""

    def __init__(self, issues: Iterable[ConfigIssue]) -> None:
        self.issues: list[ConfigIssue] = sorted(issues, key=lambda i: (i.line or 0, i.col or 0))
        super().__init__("\n".join(str(i) for i in self.issues))

    @classmethod
    def single(cls, file: str, message: str, line: int | None = None) -> ConfigError:
        return cls([ConfigIssue(file, message, line)])


def render_path(loc: Sequence[str | int]) -> str:
    """``("strategies", 0, "params", "fast")`` -> ``strategies[0].params.fast``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def show(value: Any) -> str:
    """A value as the operator wrote it in YAML, short."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list | tuple):
        return "a list"
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def closest(word: str, choices: Iterable[str]) -> str | None:
    options = list(choices)
    folded = {c.casefold(): c for c in options}
    if word.casefold() in folded:
        return folded[word.casefold()]
    match = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return match[0] if match else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    match = closest(word, choices)
    return f" (did you mean {match!r}?)" if match else ""


def unknown_key_message(key: str | int, allowed: Sequence[str]) -> str:
    hint = did_you_mean(str(key), allowed)
    if hint:
        return f"unknown key {str(key)!r}{hint}"
    if not allowed:
        return f"unknown key {str(key)!r}; no keys are allowed here"
    return f"unknown key {str(key)!r}; allowed: {', '.join(allowed)}"


def bad_choice_message(value: Any, allowed: Sequence[str]) -> str:
    hint = did_you_mean(value, allowed) if isinstance(value, str) else ""
    return f"bad value {show(value)}{hint}; allowed: {', '.join(allowed)}"


# --- walking a model's annotations along a loc (for allowed keys and choices) ---------------


def _members(tp: Any) -> list[Any]:
    """The concrete types behind Annotated / Optional / unions."""
    origin = get_origin(tp)
    if origin is Annotated:
        return _members(get_args(tp)[0])
    if origin is Union or origin is types.UnionType:
        return [m for arg in get_args(tp) for m in _members(arg) if m is not type(None)]
    return [tp]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def type_at(root: Any, loc: Sequence[str | int]) -> Any:
    """The annotation reached by following ``loc`` from ``root`` (None where it cannot tell)."""
    current: Any = root
    for part in loc:
        step: Any = None
        for member in _members(current):
            if isinstance(part, int) and get_origin(member) in (list, tuple):
                step = get_args(member)[0]
            elif isinstance(part, str) and _is_model(member):
                for name, field in member.model_fields.items():
                    if part in (name, field.alias):
                        step = field.annotation
            if step is not None:
                break
        if step is None:
            return None
        current = step
    return current


def field_keys(tp: Any) -> list[str]:
    for member in _members(tp):
        if _is_model(member):
            return [f.alias or name for name, f in member.model_fields.items()]
    return []


def choices(tp: Any) -> list[str]:
    for member in _members(tp):
        if get_origin(member) is Literal:
            return [str(a) for a in get_args(member)]
        if get_origin(member) in (list, tuple):
            return choices(get_args(member)[0])
        if isinstance(member, type) and issubclass(member, enum.Enum):
            return [str(m.value) for m in member]
    return []


# --- pydantic error -> (line key path, shown key path, message) ------------------------------

_EXPECTED = {
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "a whole number",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "true or false",
    "bool_parsing": "true or false",
    "string_type": "a string",
    "dict_type": "a mapping",
    "model_type": "a mapping",
    "model_attributes_type": "a mapping",
    "list_type": "a list",
    "tuple_type": "a list",
    "path_type": "a path",
    "datetime_type": "a date-time like 2024-03-08T14:30:00Z",
    "datetime_parsing": "a date-time like 2024-03-08T14:30:00Z",
    "datetime_from_date_parsing": "a date-time like 2024-03-08T14:30:00Z",
}


@dataclass(frozen=True, slots=True)
class Problem:
    line_loc: KeyPath  # where to look up the line
    shown_loc: KeyPath  # the key path printed before the message
    message: str


def describe(err: ErrorDetails, model: Any, prefix: KeyPath = ()) -> Problem:
    """Phrase one pydantic error; ``model`` is the type ``err['loc']`` is relative to."""
    loc: KeyPath = tuple(err["loc"])
    kind = err["type"]
    value = err.get("input")
    full = prefix + loc
    if kind == "extra_forbidden":
        allowed = field_keys(type_at(model, loc[:-1]))
        return Problem(full, full[:-1], unknown_key_message(loc[-1], allowed))
    if kind == "missing":
        return Problem(full[:-1], full[:-1], f"missing required key {str(loc[-1])!r}")
    if kind in ("literal_error", "enum"):
        allowed = choices(type_at(model, loc))
        if allowed:
            return Problem(full, full, bad_choice_message(value, allowed))
    if kind in _EXPECTED:
        return Problem(full, full, f"expected {_EXPECTED[kind]}, got {show(value)}")
    if kind in ("value_error", "assertion_error"):
        return Problem(full, full, str(err.get("ctx", {}).get("error", err["msg"])))
    if kind == "too_short" and err.get("ctx", {}).get("min_length") == 1:
        return Problem(full, full, "must not be empty")
    text = err["msg"].replace("Input should be", "must be")
    return Problem(full, full, f"{text[:1].lower()}{text[1:]}, got {show(value)}")
