"""The layout stays what the README and the import contract say: every package of ``bot`` is
a layer of the import-linter contract (a package outside it would be checked by nothing) and
has its row in the README's layout table."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TOP_MODULES = {"__init__", "__main__", "cli"}


def _packages() -> set[str]:
    return {p.name for p in (ROOT / "bot").iterdir() if (p / "__init__.py").is_file()}


def _layers() -> list[str]:
    cfg = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["importlinter"]
    (contract,) = [c for c in cfg["contracts"] if c["type"] == "layers"]
    assert contract["containers"] == ["bot"]
    return [name.strip() for layer in contract["layers"] for name in layer.split("|")]


def test_bot_has_no_top_level_modules_but_the_entry_points() -> None:
    modules = {p.stem for p in (ROOT / "bot").glob("*.py")}
    assert modules == TOP_MODULES


def test_every_package_is_a_layer_of_the_import_contract() -> None:
    layers = _layers()
    assert len(layers) == len(set(layers))
    assert set(layers) == _packages() | (TOP_MODULES - {"__init__"})


def test_every_package_has_a_row_in_the_readme_layout_table() -> None:
    rows = [line for line in (ROOT / "README.md").read_text().splitlines()
            if line.startswith("| `bot/")]  # fmt: skip
    named = {m for row in rows for m in re.findall(r"`bot/([a-z_]+)/`", row.split(" | ")[0])}
    assert named == _packages()
