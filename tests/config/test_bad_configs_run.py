"""Bad configs through ``ibbot run`` (in-process): exit 2, the exact message on stderr, nothing
connected, no gateway started, no journal opened. The cases are test_bad_configs.py's, all."""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from ib_insync import IB
from test_bad_configs import CASES

from bot.cli import main
from bot.gateway.server import Gateway
from bot.journal.store import Journal

assert len(CASES) >= 12


@pytest.fixture
def contacts(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """Every attempt to reach IB, start the embedded gateway or open the journal, recorded
    (and refused)."""
    seen: list[str] = []

    def refuse(what: str) -> Callable[..., Any]:
        async def called(*args: Any, **kwargs: Any) -> None:
            seen.append(what)
            raise AssertionError(f"a bad config must not get as far as {what}")

        return called

    monkeypatch.setattr(IB, "connectAsync", refuse("IB.connectAsync"))
    monkeypatch.setattr(Gateway, "start", refuse("Gateway.start"))

    def journal(self: Journal, *args: Any, **kwargs: Any) -> None:
        seen.append("Journal")
        raise AssertionError("a bad config must not open a journal")

    monkeypatch.setattr(Journal, "__init__", journal)
    monkeypatch.delenv("IB_ACCOUNT", raising=False)  # the ${IB_ACCOUNT} case wants it unset
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield seen
    root.handlers[:] = handlers  # `ibbot run` installs its own once past the config
    root.setLevel(level)


@pytest.mark.parametrize(
    ("yaml_text", "expected"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_ibbot_run_refuses_a_bad_config(
    write: Callable[[str], Path],
    capsys: pytest.CaptureFixture[str],
    contacts: list[str],
    yaml_text: str,
    expected: str,
) -> None:
    path = write(yaml_text)
    assert main(["run", str(path)]) == 2
    out, err = capsys.readouterr()
    assert err == expected.replace("FILE", str(path)) + "\n"
    assert out == ""
    assert contacts == []


def test_the_fixture_would_see_a_connection(
    write: Callable[[str], Path], contacts: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    # GOOD (as the bad cases' baseline) gets past the config and tries to connect: seen.
    from test_bad_configs import GOOD

    assert main(["run", str(write(GOOD))]) == 1
    assert contacts == ["IB.connectAsync"]
