"""``ibbot run config/demo.yaml`` on each client library (``ib.library``), as its own process:
the connect line names the library and its version, orders fill, the run stops cleanly. The
replay is as fast as the bot reads (speed 0: in lockstep) to the end of the sample, so what
trades does not depend on how fast the machine is."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from e2e_support import ROOT

from bot.client.library import LIBRARIES


def demo_config(tmp: Path, library: str) -> Path:
    cfg = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text())
    cfg["ib"]["library"] = library
    cfg["gateway"]["speed"] = 0
    cfg["journal"]["path"] = str(tmp / "demo.sqlite")
    path = tmp / "demo.yaml"
    path.write_text(yaml.safe_dump(cfg))
    return path


@pytest.mark.parametrize("library", LIBRARIES)
def test_the_demo_runs_on_each_client_library(library: str, tmp_path: Path) -> None:
    pytest.importorskip(library)
    version = importlib.metadata.version(library)
    run = subprocess.run(
        [sys.executable, "-m", "bot", "run", str(demo_config(tmp_path, library))],
        cwd=ROOT, capture_output=True, text=True, timeout=240,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    assert f"embedded gateway) as client 1 ({library} {version})" in run.stderr
    assert " FILL  " in run.stderr  # the strategies traded through the chosen library
    assert "Traceback" not in run.stderr
