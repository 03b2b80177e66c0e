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

import argparse
import asyncio
import logging
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from bot.config import BotConfig, ConfigError, load_config
from bot.journal import Journal, dry_run_path

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
        for rid, action, sid, reason in self.journal.requests():
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
        for rid, action, sid, reason in self.journal.requests(self._last):
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


def add_request_arguments(p: argparse.ArgumentParser, verb: str) -> None:
    """The arguments of ``ibbot kill`` and ``ibbot resume`` (``verb``: "kill" or "resume")."""
    p.add_argument("config", metavar="CONFIG", help="the YAML config of the daemon")
    p.add_argument("--strategy", metavar="ID", help=f"{verb} one strategy (default: the account)")
    p.add_argument("--reason", default=f"operator {verb}", help=f"journalled with the {verb}")
    p.add_argument("--dry-run", action="store_true",
                   help="the dry run's journal (also when the config sets dry_run)")  # fmt: skip


def request_from_cli(action: str, args: argparse.Namespace) -> int:
    """``ibbot kill`` / ``ibbot resume``: validate, write the request, say what happens next.
    (The wall clock is right here: the operator's request is not an event of the market.)"""
    try:
        cfg = load_config(Path(args.config))
    except ConfigError as exc:
        print(exc, file=sys.stderr)
        return 2
    sid: str | None = args.strategy
    ids = [s.id for s in cfg.strategies]
    if sid is not None and sid not in ids:
        print(f"{args.config}: no strategy {sid!r} (strategies: {', '.join(ids)})",
              file=sys.stderr)  # fmt: skip
        return 2
    sent = _through_channel(cfg, action, sid, args.reason)
    if sent is not None:
        return sent
    path = dry_run_path(cfg.journal.path) if args.dry_run or cfg.dry_run else cfg.journal.path
    journal = Journal(path)
    try:
        rid = journal.request(action, sid, args.reason or action, datetime.now(UTC))
    finally:
        journal.close()
    scope = f"strategy {sid}" if sid else "the account"
    print(f"{action} of {scope} requested (#{rid} in {path}); a running daemon acts within "
          f"{POLL_S:g} s, otherwise its next start does")  # fmt: skip
    return 0


def _through_channel(cfg: BotConfig, action: str, sid: str | None, reason: str) -> int | None:
    """A running daemon with a control channel (``control:`` and ``metrics:``) takes the
    request at once; None when there is no channel, no token, or no daemon answering (then
    the journal request reaches it within a second, or its next start)."""
    import os
    import urllib.error

    from bot.commands.control import send

    if cfg.control is None or cfg.metrics is None or not cfg.metrics.port:
        return None
    token = os.environ.get(cfg.control.token_env, "")
    if not token:
        return None
    try:
        code, body = send(cfg.metrics.port, action, {"strategy": sid, "reason": reason}, token)
    except (urllib.error.URLError, OSError):
        return None  # not running: the journal carries it to the next start
    if code != 200:
        print(f"ibbot {action}: the daemon refused: {body.get('error', code)}", file=sys.stderr)
        return 2
    scope = f"strategy {sid}" if sid else "the account"
    print(f"{action} of {scope}: done by the running daemon (request #{body['request']})")
    return 0
