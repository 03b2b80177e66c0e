"""The simulated clock: tells simulated time; the gateway's driver loop does the stepping.

Three modes: manual (``speed=None``) and as-fast-as-possible (``speed=0``) move only when
``advance()`` is called; paced (``speed=N>0``) runs N simulated seconds per wall second, and
``advance()`` jumps ahead on top of that.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta


class SimClock:
    def __init__(
        self,
        start: datetime,
        speed: float | None = None,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        if start.tzinfo is None:
            raise ValueError("SimClock start must be timezone-aware")
        if speed is not None and speed < 0:
            raise ValueError(f"speed must be None, 0 or > 0, not {speed}")
        self._speed = speed
        self._monotonic = monotonic
        self._anchor_sim = start
        self._anchor_wall = monotonic()

    @property
    def speed(self) -> float | None:
        return self._speed

    @property
    def paced(self) -> bool:
        """True when time flows with the wall clock (speed N > 0)."""
        return bool(self._speed)

    @property
    def as_fast_as_possible(self) -> bool:
        return self._speed == 0

    def now(self) -> datetime:
        if not self._speed:
            return self._anchor_sim
        elapsed = self._monotonic() - self._anchor_wall
        return self._anchor_sim + timedelta(seconds=elapsed * self._speed)

    def advance(self, dt: timedelta) -> None:
        if dt < timedelta(0):
            raise ValueError("the clock does not go backwards")
        self._rebase()
        self._anchor_sim += dt

    def _rebase(self) -> None:
        # Fold the elapsed paced time into the anchor so later changes start from "now".
        self._anchor_sim = self.now()
        self._anchor_wall = self._monotonic()
