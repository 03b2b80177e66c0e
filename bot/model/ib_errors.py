"""IB's error and notice codes the bot acts on, and what each kind means
(https://interactivebrokers.github.io/tws-api/message_codes.html)."""

from __future__ import annotations

from typing import Final

# ---- connectivity: system notices (reqId -1) --------------------------------------------------
CONNECTIVITY_LOST: Final = 1100
CONNECTIVITY_RESTORED_DATA_LOST: Final = 1101  # every subscription is gone
CONNECTIVITY_RESTORED_DATA_KEPT: Final = 1102
CLIENT_ID_IN_USE: Final = 326

# ---- requests ---------------------------------------------------------------------------------
HMDS_ERROR: Final = 162  # the historical data service: pacing, no data, scanner refusals
NO_SECURITY: Final = 200  # no (or an ambiguous) contract for the description
ORDER_REJECTED: Final = 201
ORDER_CANCELLED: Final = 202  # also how IB confirms a cancel that was asked for

# ---- data farms -------------------------------------------------------------------------------
MARKET_FARM_BROKEN: Final = 2103
MARKET_FARM_OK: Final = 2104
HMDS_FARM_BROKEN: Final = 2105
HMDS_FARM_OK: Final = 2106
# code -> (the farm's kind, its state); the farm's own name ends the text ("...is OK:usfarm").
# Inactive (2107/2108) is a farm idle "but available upon demand": not a fault.
FARM_NOTICES: Final = {
    MARKET_FARM_BROKEN: ("market data", "broken"), MARKET_FARM_OK: ("market data", "ok"),
    HMDS_FARM_BROKEN: ("historical data", "broken"), HMDS_FARM_OK: ("historical data", "ok"),
    2107: ("historical data", "inactive"), 2108: ("market data", "inactive"),
    2157: ("security definition", "broken"), 2158: ("security definition", "ok"),
}  # fmt: skip

# Codes that inform rather than fail a request, as ib_insync tells them apart (it logs these
# as warnings): 165 a historical-data/scanner note, 202 a cancel confirmed, 399 an order
# warning (e.g. held until the open), 2100-2199 the farm and API notices.
_WARNINGS: Final = frozenset({110, 165, 202, 399, 404, 434, 492, 10167})


def is_warning(code: int) -> bool:
    """True for a notice or warning, False for an error that ends its request."""
    return code in _WARNINGS or 2100 <= code < 2200


def is_rejection(code: int) -> bool:
    """Whether an order IB cancelled with ``code`` was refused (0: no code, 202: cancelled as
    asked)."""
    return code not in (0, ORDER_CANCELLED)
