"""IB's historical-data bar sizes (``barSizeSetting``) in seconds: what a config may ask for and
what the simulated gateway serves, from one table."""

from __future__ import annotations

DAY = 86400

BAR_SIZES: dict[str, int] = {
    "5 secs": 5, "10 secs": 10, "15 secs": 15, "30 secs": 30,
    "1 min": 60, "2 mins": 120, "3 mins": 180, "5 mins": 300, "10 mins": 600,
    "15 mins": 900, "20 mins": 1200, "30 mins": 1800,
    "1 hour": 3600, "2 hours": 7200, "3 hours": 10800, "4 hours": 14400, "8 hours": 28800,
    "1 day": DAY,
}  # fmt: skip
