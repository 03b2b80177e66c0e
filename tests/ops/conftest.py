import sys
from pathlib import Path

# the e2e helpers (simulated gateway, configs, e2e strategies)
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "e2e"))
