"""Command-line flags generated from a settings model's fields, so a new field is a new flag.

Each field ``some_name`` becomes ``--some-name``, its help the field's description, its
default the field's (or the ``Flag`` marker's, where a command's default differs from the
config file's). A bool that defaults to true becomes ``--no-some-name`` (its description a verb
phrase, read after "do not"). A value is checked by the model itself as it is parsed, so a bad
one is argparse's usage error, as with hand-written flags.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal, TypeVar, get_args, get_origin

from pydantic import BaseModel, ValidationError
from pydantic.fields import FieldInfo

M = TypeVar("M", bound=BaseModel)


@dataclass(frozen=True)
class Flag:
    """A field's command-line particulars, given as ``Annotated[type, Flag(...)]``."""

    default: Any = ...  # ...: the field's default
    parse: Callable[[str], Any] | None = None  # None: the model checks the text
    metavar: str | None = None


def add_flags(parser: argparse.ArgumentParser, model: type[BaseModel]) -> None:
    """One flag per field of ``model``."""
    for name, info in model.model_fields.items():
        if info.annotation is bool:
            _add_switch(parser, name, info)
        else:
            _add_option(parser, model, name, info)


def _add_switch(parser: argparse.ArgumentParser, name: str, info: FieldInfo) -> None:
    default, described = _default(info), _help(info)
    if default:
        parser.add_argument(_option(name, "no-"), dest=name, action="store_false",
                            default=True, help=f"do not {described}")  # fmt: skip
    else:
        parser.add_argument(_option(name), dest=name, action="store_true", help=described)


def _add_option(
    parser: argparse.ArgumentParser, model: type[BaseModel], name: str, info: FieldInfo
) -> None:
    flag, default, choices = _flag(info), _default(info), _choices(info)
    if flag.parse:
        parse: Callable[[str], Any] = _usage_error(flag.parse)
    else:  # choices: argparse says which are valid
        parse = str if choices else _checked(model, name)
    shown = "" if default is None else f" (default: {default})"
    parser.add_argument(
        _option(name),
        dest=name,
        default=default,
        type=parse,
        choices=choices,
        metavar=flag.metavar,
        help=_help(info) + shown,
    )


def _option(name: str, prefix: str = "") -> str:
    return f"--{prefix}{name.replace('_', '-')}"


def _default(info: FieldInfo) -> Any:
    flag = _flag(info)
    return info.default if flag.default is ... else flag.default


def _help(info: FieldInfo) -> str:
    return (info.description or "").replace("%", "%%")  # argparse %-formats help


def from_args(model: type[M], args: argparse.Namespace) -> M:
    """The settings the parsed flags (of ``add_flags``) give."""
    return model.model_validate({name: getattr(args, name) for name in model.model_fields})


def _flag(info: FieldInfo) -> Flag:
    return next((m for m in info.metadata if isinstance(m, Flag)), Flag())


def _choices(info: FieldInfo) -> tuple[Any, ...] | None:
    return get_args(info.annotation) if get_origin(info.annotation) is Literal else None


def _checked(model: type[BaseModel], name: str) -> Callable[[str], Any]:
    def parse(text: str) -> Any:
        try:
            return getattr(model.model_validate({name: text}), name)
        except ValidationError as exc:
            errors = [e for e in exc.errors() if e["loc"][:1] == (name,)] or exc.errors()
            raise argparse.ArgumentTypeError(errors[0]["msg"]) from None

    parse.__name__ = name  # argparse names the type in "invalid <name> value"
    return parse


def _usage_error(parse: Callable[[str], Any]) -> Callable[[str], Any]:
    # argparse shows an ArgumentTypeError's own words ("invalid ... value" for a ValueError).
    def checked(text: str) -> Any:
        try:
            return parse(text)
        except ValueError as exc:
            raise argparse.ArgumentTypeError(str(exc)) from None

    return checked
