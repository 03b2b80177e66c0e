"""Lengths of time as people write them in configs, fault plans and on the command line:
"30s", "5m", "1h", "1h30m", "0.5h" (hours, minutes, seconds, each at most once, in that
order, a space allowed after each number)."""

from __future__ import annotations

import re

_UNIT_S = {"h": 3600.0, "m": 60.0, "s": 1.0}
_NUMBER = r"([0-9]+(?:\.[0-9]+)?)\s*"
_INTERVAL = re.compile(rf"\s*(?:{_NUMBER}h\s*)?(?:{_NUMBER}m\s*)?(?:{_NUMBER}s\s*)?", re.IGNORECASE)


def parse_interval(text: str) -> float | None:
    """Seconds ``text`` means, or None when it is no interval (a bare number is not one)."""
    m = _INTERVAL.fullmatch(text)
    if m is None or not any(m.groups()):
        return None
    return sum(float(g) * s for g, s in zip(m.groups(), _UNIT_S.values(), strict=True) if g)
