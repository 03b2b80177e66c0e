"""The operator's kill switch and resume: ``ibbot kill`` / ``ibbot resume``, the kill file, SIGUSR1.

The commands write a request into the journal's ``control`` table (they work whether or not a
daemon runs); the daemon reads the table at start, before any strategy starts (the latest
request of each scope wins: a kill not yet resumed is applied again, so HALTED survives
restarts), and then polls it every second. The kill file (``risk.kill_file``) is polled with
it: while the file exists the account is killed (remove it, then resume). SIGUSR1 kills the
account. A kill cancels the scope's working orders (the account's with reqGlobalCancel),
flattens with market orders and holds the scope HALTED until a resume.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

from bot.journal.store import Journal

log = logging.getLogger(__name__)

KILL, RESUME = "kill", "resume"
POLL_S = 1.0

# (strategy id or None for the account, reason) -> None
Act = Callable[[str | None, str], None]


class OperatorControl:
    def __init__(
        self, journal: Journal, *, kill: Act, resume: Act, now: Callable[[], datetime],
        kill_file: Path | None = None, known: Callable[[str], bool] = lambda _sid: True,
    ) -> None:  # fmt: skip
        self.journal = journal
        self._kill, self._resume, self._now = kill, resume, now
        self.kill_file = kill_file
        self._known = known
        self._last = 0
        self._file_killed = False

    def start(self) -> None:
        """At start: the latest request of each scope (a kill not resumed is applied again)."""
        latest: dict[str | None, tuple[str, str]] = {}
        for rid, action, sid, reason in self.journal.control.requests():
            self._last = rid
            latest[sid] = (action, reason)
            if sid is None:  # the account's request supersedes older strategy ones
                latest = {None: (action, reason)}
        for sid, (action, reason) in latest.items():
            if action == KILL:
                self._apply(KILL, sid, f"{reason} (restored at start)")
        self.poll_file()

    def poll(self) -> None:
        """New requests since the last poll, in order; then the kill file."""
        for rid, action, sid, reason in self.journal.control.requests(self._last):
            self._last = rid
            self._apply(action, sid, reason)
        self.poll_file()

    def poll_file(self) -> None:
        path = self.kill_file
        if path is None:
            return
        exists = path.exists()
        if exists and not self._file_killed:
            text = _read(path)
            self._apply(KILL, None, f"kill file {path}" + (f": {text}" if text else ""))
        self._file_killed = exists

    def resumed(self) -> None:
        """A resume of the account while the kill file still exists kills again (it says so)."""
        if self.kill_file is not None and self.kill_file.exists():
            log.warning("kill file %s still exists: remove it to resume", self.kill_file)
            self._file_killed = False

    def _apply(self, action: str, sid: str | None, reason: str) -> None:
        if sid is not None and not self._known(sid):
            log.warning("operator %s for unknown strategy %r ignored", action, sid)
            return
        scope = sid or "the account"
        log.warning("operator %s of %s: %s", action, scope, reason)
        if action == KILL:
            self._kill(sid, reason)
        elif action == RESUME:
            self._resume(sid, reason)
            if sid is None:
                self.resumed()
        else:
            log.warning("unknown operator request %r ignored", action)

    async def run(self) -> None:
        """Poll every second until cancelled."""
        while True:
            await asyncio.sleep(POLL_S)
            try:
                self.poll()
            except Exception:
                log.exception("operator control poll failed")


def _read(path: Path) -> str:
    try:
        return path.read_text(errors="replace").strip()[:200]
    except OSError:
        return ""
