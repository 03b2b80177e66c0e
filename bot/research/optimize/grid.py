"""``--grid 'fast=5..50:5,slow=20..200:10,mode=long_flat|long_short'``: the parameter axes of a
sweep, their combinations in a fixed order, and a seeded random sample of them.

A range ``a..b:step`` includes both ends when the steps land on ``b``; it stays integer when
``a``, ``b`` and ``step`` are all integers. A list ``v1|v2`` reads each value as YAML does
(``5`` an int, ``0.5`` a float, ``true`` a bool, ``long_flat`` a string)."""

from __future__ import annotations

import itertools
import random
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import yaml
from pydantic import BaseModel, ValidationError

Value = int | float | bool | str
MAX_COMBINATIONS = 1_000_000  # a typo such as step 0.0001 should fail fast, not fill memory


class GridError(ValueError):
    """Bad ``--grid`` / ``--random``: exit code 2, with this message."""


@dataclass(frozen=True, slots=True)
class Axis:
    name: str
    values: tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Grid:
    axes: tuple[Axis, ...]

    @property
    def names(self) -> list[str]:
        return [a.name for a in self.axes]

    @property
    def size(self) -> int:
        n = 1
        for a in self.axes:
            n *= len(a.values)
        return n

    def combinations(self) -> Iterator[dict[str, Value]]:
        """Every combination, the last axis varying fastest."""
        for values in itertools.product(*(a.values for a in self.axes)):
            yield dict(zip(self.names, values, strict=True))

    def sample(self, n: int, seed: int) -> list[dict[str, Value]]:
        """``n`` distinct combinations drawn with ``seed`` (all of them when n >= size), in
        grid order so the same draw gives the same rows."""
        if n <= 0:
            raise GridError(f"--random must be positive, got {n}")
        if n >= self.size:
            return list(self.combinations())
        picked = sorted(random.Random(seed).sample(range(self.size), n))
        return [self._at(i) for i in picked]

    def _at(self, index: int) -> dict[str, Value]:
        out: dict[str, Value] = {}
        for a in reversed(self.axes):
            index, i = divmod(index, len(a.values))
            out[a.name] = a.values[i]
        return {name: out[name] for name in self.names}


def parse_grid(text: str) -> Grid:
    """Parse the ``--grid`` text; GridError names the bad part."""
    axes: list[Axis] = []
    for part in (p.strip() for p in text.split(",")):
        if not part:
            raise GridError(f"--grid {text!r}: an empty entry (two commas, or a trailing one)")
        name, sep, spec = (s.strip() for s in part.partition("="))
        if not sep or not name or not spec:
            raise GridError(f"--grid entry {part!r}: write name=a..b:step or name=v1|v2|v3")
        if name in {a.name for a in axes}:
            raise GridError(f"--grid: parameter {name!r} is given twice")
        values = _range(part, spec) if ".." in spec else _list(part, spec)
        axes.append(Axis(name, values))
    grid = Grid(tuple(axes))
    if grid.size > MAX_COMBINATIONS:
        raise GridError(f"--grid {text!r}: {grid.size:,} combinations (at most "
                        f"{MAX_COMBINATIONS:,}; use --random N to sample it)")  # fmt: skip
    return grid


def _range(part: str, spec: str) -> tuple[Value, ...]:
    bounds, _, step_text = spec.partition(":")
    lo_text, _, hi_text = bounds.partition("..")
    try:
        lo, hi = Decimal(lo_text.strip()), Decimal(hi_text.strip())
        step = Decimal(step_text.strip()) if step_text else Decimal(1)
    except InvalidOperation:
        raise GridError(f"--grid entry {part!r}: a range is a..b:step with numbers, "
                        "e.g. fast=5..50:5") from None  # fmt: skip
    if not (lo.is_finite() and hi.is_finite() and step.is_finite()):
        raise GridError(f"--grid entry {part!r}: bounds and step must be finite numbers")
    if step <= 0:
        raise GridError(f"--grid entry {part!r}: the step must be positive")
    if hi < lo:
        raise GridError(f"--grid entry {part!r}: the range ends ({hi}) before it starts ({lo})")
    count = int((hi - lo) / step) + 1
    if count > MAX_COMBINATIONS:
        raise GridError(f"--grid entry {part!r}: {count:,} values")
    texts = ((lo, lo_text), (hi, hi_text), (step, step_text or "1"))
    integral = all(d == d.to_integral_value() and "." not in t for d, t in texts)
    # Decimal arithmetic: 0.1..0.3:0.1 gives 0.1, 0.2, 0.3, not 0.30000000000000004.
    points = [lo + i * step for i in range(count)]
    return tuple(int(p) if integral else float(p) for p in points)


def _list(part: str, spec: str) -> tuple[Value, ...]:
    out: list[Value] = []
    for item in (s.strip() for s in spec.split("|")):
        if not item:
            raise GridError(f"--grid entry {part!r}: an empty value in the list")
        try:
            value = yaml.safe_load(item)
        except yaml.YAMLError:
            value = item
        if not isinstance(value, int | float | bool | str):
            value = item  # e.g. "[1]" or "{a: 1}": kept as the text the user wrote
        if value in out:
            raise GridError(f"--grid entry {part!r}: {item!r} is listed twice")
        out.append(value)
    return tuple(out)


def check_names(grid: Grid, params_model: type[BaseModel], strategy: str) -> None:
    """Every axis must be a field of the strategy's Params model."""
    known = list(params_model.model_fields)
    for name in grid.names:
        if name not in known:
            raise GridError(
                f"--grid: strategy {strategy!r} has no parameter {name!r}; its parameters: "
                + (", ".join(known) or "none")
            )


@dataclass(frozen=True, slots=True)
class Candidates:
    """The parameter sets to run (full params, base merged with the grid's values) and the
    combinations the Params model refused, with its reason."""

    params: list[dict[str, Any]]  # validated and dumped, in grid order
    varied: list[dict[str, Value]]  # the grid's values of each, same order
    skipped: list[tuple[dict[str, Value], str]]


def candidates(
    combos: Sequence[Mapping[str, Value]], base: Mapping[str, Any], params_model: type[BaseModel]
) -> Candidates:
    ok: list[dict[str, Any]] = []
    varied: list[dict[str, Value]] = []
    skipped: list[tuple[dict[str, Value], str]] = []
    for combo in combos:
        try:
            model = params_model.model_validate({**base, **combo})
        except ValidationError as e:
            skipped.append((dict(combo), _reason(e)))
            continue
        ok.append(model.model_dump(by_alias=True))
        varied.append(dict(combo))
    return Candidates(ok, varied, skipped)


def _reason(e: ValidationError) -> str:
    first = e.errors()[0]
    where = ".".join(str(p) for p in first.get("loc", ()))
    msg = str(first["msg"]).removeprefix("Value error, ")  # a model validator's own words
    return f"{where}: {msg}" if where else msg
