"""YAML to plain data plus the line of every mapping key and sequence item.

``yaml.SafeLoader`` composes the node tree (nodes carry marks); we build the data ourselves from
it so each key path can be noted with its line, environment references substituted in string
scalars, and duplicate keys reported instead of silently overwritten.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from bot.config.env import substitute
from bot.config.errors import ConfigError, ConfigIssue, KeyPath, render_path

_STR_TAG = "tag:yaml.org,2002:str"
_MERGE_TAG = "tag:yaml.org,2002:merge"


@dataclass(slots=True)
class LoadedYaml:
    data: dict[str, Any]
    lines: dict[KeyPath, int]
    root_line: int
    issues: list[ConfigIssue] = field(default_factory=list)

    def line_of(self, loc: KeyPath) -> int:
        """Line of the longest prefix of ``loc`` that was written in the file."""
        for end in range(len(loc), 0, -1):
            line = self.lines.get(loc[:end])
            if line is not None:
                return line
        return self.root_line


class LineLoader(yaml.SafeLoader):
    """A SafeLoader that builds plain data from nodes, recording where each entry starts."""

    def __init__(self, text: str, file: str, env: Mapping[str, str]) -> None:
        super().__init__(text)
        self.file = file
        self.env = env
        self.lines: dict[KeyPath, int] = {}
        self.issues: list[ConfigIssue] = []
        self._stack: set[int] = set()

    def note(self, node: yaml.Node, path: KeyPath, message: str) -> None:
        line = node.start_mark.line + 1
        self.issues.append(ConfigIssue(self.file, message, line, path=render_path(path)))

    def build(self, node: yaml.Node, path: KeyPath) -> Any:
        if id(node) in self._stack:  # an alias inside its own anchor
            self.note(node, path, "recursive YAML alias")
            return None
        self._stack.add(id(node))
        try:
            if isinstance(node, yaml.MappingNode):
                return self._mapping(node, path)
            if isinstance(node, yaml.SequenceNode):
                return self._sequence(node, path)
            return self._scalar(node, path)
        finally:
            self._stack.discard(id(node))

    def _mapping(self, node: yaml.MappingNode, path: KeyPath) -> dict[str, Any]:
        first: dict[str, int] = {}
        for key_node, _ in node.value:
            if key_node.tag == _MERGE_TAG or not isinstance(key_node, yaml.ScalarNode):
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in first:
                msg = f"duplicate key {key_node.value!r} (first at line {first[key_node.value]})"
                self.note(key_node, path, msg)
            first.setdefault(key_node.value, line)
        self.flatten_mapping(node)  # `<<: *anchor` merges; later keys override merged ones
        out: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if not isinstance(key_node, yaml.ScalarNode):
                self.note(key_node, path, "mapping keys must be plain names")
                continue
            # The key's source text, so `on:` or `yes:` stay names rather than becoming booleans.
            key = str(key_node.value)
            self.lines[(*path, key)] = key_node.start_mark.line + 1
            out[key] = self.build(value_node, (*path, key))
        return out

    def _sequence(self, node: yaml.SequenceNode, path: KeyPath) -> list[Any]:
        out = []
        for i, item in enumerate(node.value):
            self.lines[(*path, i)] = item.start_mark.line + 1
            out.append(self.build(item, (*path, i)))
        return out

    def _scalar(self, node: yaml.Node, path: KeyPath) -> Any:
        value = self.construct_object(node, deep=True)
        if node.tag == _STR_TAG and isinstance(value, str) and "${" in value:
            value, problems = substitute(value, self.env)
            for problem in problems:
                self.note(node, path, problem)
        return value


def read_text(path: Path) -> str:
    file = str(path)
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError.single(file, "config file not found") from None
    except IsADirectoryError:
        raise ConfigError.single(file, "is a directory, not a config file") from None
    except UnicodeDecodeError as exc:
        raise ConfigError.single(file, f"not UTF-8 text ({exc.reason})") from None
    except OSError as exc:
        raise ConfigError.single(file, f"cannot read: {exc.strerror}") from None


def _syntax_error(file: str, exc: yaml.YAMLError) -> ConfigError:
    if not isinstance(exc, yaml.MarkedYAMLError) or exc.problem_mark is None:
        return ConfigError.single(file, f"invalid YAML: {exc}")
    mark = exc.problem_mark
    text = f"invalid YAML: {exc.problem}"
    if exc.context and exc.context_mark is not None:
        text += f" ({exc.context} at line {exc.context_mark.line + 1})"
    return ConfigError([ConfigIssue(file, text, mark.line + 1, mark.column + 1)])


def load_yaml(path: Path, env: Mapping[str, str]) -> LoadedYaml:
    """Parse ``path``; syntax and file problems raise ConfigError, substitution ones are kept."""
    file = str(path)
    text = read_text(path)
    loader = LineLoader(text, file, env)
    try:
        root = loader.get_single_node()
        if root is None:
            raise ConfigError.single(
                file,
                "the config file is empty (expected a mapping with 'universe' and 'strategies')",
            )
        root_line = root.start_mark.line + 1
        if not isinstance(root, yaml.MappingNode):
            got = "a list" if isinstance(root, yaml.SequenceNode) else f"{root.value!r}"
            raise ConfigError.single(
                file, f"expected a mapping of settings at the top level, got {got}", root_line
            )
        data = loader.build(root, ())
    except yaml.YAMLError as exc:
        raise _syntax_error(file, exc) from None
    finally:
        loader.dispose()
    return LoadedYaml(data, loader.lines, root_line, loader.issues)
