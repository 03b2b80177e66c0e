"""The daemon's signals: SIGINT and SIGTERM stop it, SIGUSR1 is the operator's kill of the
account (once trading; ignored before, the next start honours ``ibbot kill``)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from collections.abc import Callable

log = logging.getLogger(__name__)

# Where the loop cannot take a handler (not the main thread, Windows): the daemon runs without.
_UNSUPPORTED = (NotImplementedError, RuntimeError, ValueError)


class Signals:
    def __init__(self, stop: Callable[[str], None],
                 kill_account: Callable[[str], bool]) -> None:  # fmt: skip
        """``stop(reason)``: the daemon's stop request; ``kill_account(reason)``: the
        operator's kill of the account, False when the daemon is not trading yet."""
        self._stop = stop
        self._kill_account = kill_account

    def install(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(*_UNSUPPORTED):
                loop.add_signal_handler(sig, self._stop, f"signal {sig.name}")
        with contextlib.suppress(*_UNSUPPORTED):
            loop.add_signal_handler(signal.SIGUSR1, self._sigusr1)

    def remove(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGUSR1):
            with contextlib.suppress(*_UNSUPPORTED):
                loop.remove_signal_handler(sig)

    def _sigusr1(self) -> None:
        if not self._kill_account("SIGUSR1"):
            log.warning("SIGUSR1 before start-up finished: use ibbot kill (the next start "
                        "honours it)")  # fmt: skip
