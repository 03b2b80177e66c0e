"""Times the tests share."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

NY = ZoneInfo("America/New_York")  # the exchanges' zone (US/Eastern is the same zone)
T0 = datetime(2024, 3, 4, 15, 0, tzinfo=UTC)  # a Monday, 10:00 New York
SAMPLE_T0 = datetime(2026, 10, 29, 14, 0, tzinfo=UTC)  # a Thursday of data/sample, 10:00 NY
