"""The fault-handling keys: ib.reconnect, ib.maintenance, ib.watchdog, ib.client_id_tries and
risk.reject_storm; defaults, and bad values named by file, line and key."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from bot.config.errors import ConfigError
from bot.config.load import load_config

BODY = """
universe:
  symbols: [AAPL]
strategies:
  - id: trend
    class: tiny_cross
    symbols: [AAPL]
    sizing: {fixed: 10}
"""


def test_defaults(write: Callable[[str], Path]) -> None:
    cfg = load_config(write(BODY), env={})
    assert cfg.ib.client_id_tries == 1 and cfg.ib.maintenance is None
    assert (cfg.ib.reconnect.initial, cfg.ib.reconnect.max) == (0.5, 30.0)
    assert (cfg.ib.watchdog.stale_bars, cfg.ib.watchdog.pause_after) == (2.0, 3)
    assert cfg.risk.reject_storm == 5


def test_a_maintenance_window(write: Callable[[str], Path]) -> None:
    text = 'ib:\n  maintenance: {start: "23:45", end: "00:15", timezone: America/New_York}\n'
    m = load_config(write(text + BODY), env={}).ib.maintenance
    assert m is not None and (m.start_time.hour, m.end_time.minute) == (23, 15)


@pytest.mark.parametrize(
    ("ib", "where", "text"),
    [
        ('maintenance: {start: "23:45", end: "24:15"}', "ib.maintenance.end", "bad time '24:15'"),
        ('maintenance: {start: "23:45", end: "00:15", timezone: Mars/Base}',
         "ib.maintenance.timezone", "unknown time zone 'Mars/Base'"),
        ('maintenance: {start: "01:00", end: "01:00"}', "ib.maintenance",
         "the window would be empty"),
        ("reconnect: {initial: 5, max: 1}", "ib.reconnect", "max 1 is below initial 5"),
        ("client_id_tries: 0", "ib.client_id_tries", "greater than or equal to 1"),
    ],
)
def test_bad_values_name_the_key(write: Callable[[str], Path], ib: str, where: str,
                                 text: str) -> None:  # fmt: skip
    path = write(f"ib:\n  {ib}\n" + BODY)
    with pytest.raises(ConfigError) as exc:
        load_config(path, env={})
    msg = str(exc.value)
    assert f"{path}:2: {where}" in msg and text in msg, msg
