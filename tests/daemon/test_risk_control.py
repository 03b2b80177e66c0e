"""The operator's requests: written by ``ibbot kill`` / ``resume`` (another process, or before
the daemon starts), applied at start (the latest of each scope) and by the one-second poll; the
kill file."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from bot.commands.operator_request import request_from_cli
from bot.journal.store import Journal
from bot.risk.kill_switch import KILL, RESUME, OperatorControl

NOW = datetime(2024, 3, 4, 15, tzinfo=UTC)


def control(journal: Journal, acts: list[tuple[str, str | None, str]],
            kill_file: Path | None = None) -> OperatorControl:  # fmt: skip
    return OperatorControl(
        journal, now=lambda: NOW, kill_file=kill_file, known=lambda sid: sid != "ghost",
        kill=lambda sid, why: acts.append((KILL, sid, why)),
        resume=lambda sid, why: acts.append((RESUME, sid, why)),
    )  # fmt: skip


def test_requests_written_while_stopped_are_honoured_at_start(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    j.control.request(KILL, "s1", "too many losses", NOW)
    j.control.request(KILL, "s2", "check it", NOW)
    j.control.request(RESUME, "s2", "checked", NOW)
    acts: list[tuple[str, str | None, str]] = []
    c = control(j, acts)
    c.start()  # only what still holds: s1's kill
    assert acts == [(KILL, "s1", "too many losses (restored at start)")]
    j.control.request(KILL, None, "panic", NOW)
    j.control.request(KILL, "ghost", "unknown", NOW)
    c.poll()
    assert acts[1:] == [(KILL, None, "panic")]
    acts.clear()
    control(j, acts).start()  # the account's kill supersedes older strategy requests
    assert acts == [(KILL, None, "panic (restored at start)")]


def test_the_kill_file_kills_once_per_appearance(tmp_path: Path) -> None:
    j = Journal(tmp_path / "j.sqlite")
    path = tmp_path / "KILL"
    acts: list[tuple[str, str | None, str]] = []
    c = control(j, acts, kill_file=path)
    c.start()
    assert acts == []
    path.write_text("market is wild\n")
    c.poll()
    c.poll()
    assert acts == [(KILL, None, f"kill file {path}: market is wild")]
    j.control.request(RESUME, None, "operator resume", NOW)
    c.poll()  # resumed while the file exists: killed again (remove the file first)
    c.poll()
    assert [a[0] for a in acts] == [KILL, RESUME, KILL]
    path.unlink()
    c.poll()
    assert len(acts) == 3


def test_the_commands_write_requests_and_refuse_bad_input(tmp_path: Path) -> None:
    cfg = tmp_path / "bot.yaml"
    cfg.write_text(
        "universe: {symbols: [AAPL]}\n"
        f"journal: {{path: {tmp_path / 'j.sqlite'}}}\n"
        "strategies:\n"
        "  - {id: s1, class: sma_crossover, symbols: [AAPL], sizing: {fixed: 1}}\n"
    )

    def args(**kw: object) -> argparse.Namespace:
        base = {"config": str(cfg), "strategy": None, "reason": "why", "dry_run": False}
        return argparse.Namespace(**{**base, **kw})

    assert request_from_cli(KILL, args(strategy="s1")) == 0
    assert request_from_cli(RESUME, args()) == 0
    assert request_from_cli(KILL, args(strategy="nope")) == 2
    assert request_from_cli(KILL, args(config=str(tmp_path / "missing.yaml"))) == 2
    j = Journal(tmp_path / "j.sqlite")
    assert [(a, s, r) for _, a, s, r in j.control.requests()] == [(KILL, "s1", "why"),
                                                          (RESUME, None, "why")]  # fmt: skip
    j.close()
