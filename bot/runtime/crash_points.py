"""A test hook: SIGKILL the daemon at an exact moment of an order's life.

``IBBOT_CRASH_AT`` names one point; the process kills itself (SIGKILL: no handler, no flush,
no shutdown, as a power cut or the OOM killer would) the first time it reaches it:

- ``after_journal``: an order's row (every leg's) is in the write-ahead file, durable against
  this kill (bot/journal/store.py), and possibly not yet in SQLite; the order not yet handed to
  the broker;
- ``after_send``: the order (every leg of it) is handed to the broker;
- ``after_partial_fill``: a fill that leaves its order partly filled has been routed.

The restart tests (tests/e2e/test_sigkill_subprocess.py) use it. Unset (always, outside
those tests), ``reached`` is one comparison with a module constant.
"""

from __future__ import annotations

import os
import signal
import sys
from typing import Final

POINTS: Final = frozenset({"after_journal", "after_send", "after_partial_fill"})
ENV: Final = "IBBOT_CRASH_AT"

_AT: Final = os.environ.get(ENV, "")
if _AT and _AT not in POINTS:
    raise SystemExit(f"{ENV}={_AT!r}: not a crash point (one of {', '.join(sorted(POINTS))})")


def reached(point: str) -> None:
    """Kill this process now if ``IBBOT_CRASH_AT`` names ``point``."""
    if point == _AT:
        sys.stderr.write(f"crash point {point}: SIGKILL\n")
        sys.stderr.flush()
        os.kill(os.getpid(), signal.SIGKILL)
