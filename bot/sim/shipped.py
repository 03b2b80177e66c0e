"""Where the shipped sample market lives (the defaults of the standalone gateway and tools).

A module of its own, free of heavy imports, so the config layer can name these paths."""

from pathlib import Path

_ROOT = Path(__file__).resolve().parents[2]
SAMPLE_DATA_DIR = _ROOT / "data" / "sample"
DEFAULT_INSTRUMENTS_FILE = _ROOT / "config" / "instruments.yaml"
