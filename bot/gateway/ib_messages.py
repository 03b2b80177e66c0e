"""IB's error and notice texts that the simulated gateway sends, in one table.

Sent as ``error`` messages (``4,2,reqId,code,text``); reqId -1 for the system notices.
Texts are IB's own wording as clients log it (https://interactivebrokers.github.io/tws-api/
message_codes.html gives the codes; the exact wording after the colon comes from live logs).
"""

from __future__ import annotations

from dataclasses import dataclass

# The codes are the bot's vocabulary (bot/model/ib_errors.py); re-exported for the texts here.
from bot.model.ib_errors import CONNECTIVITY_LOST as CONNECTIVITY_LOST
from bot.model.ib_errors import CONNECTIVITY_RESTORED_DATA_KEPT as CONNECTIVITY_RESTORED_DATA_KEPT
from bot.model.ib_errors import CONNECTIVITY_RESTORED_DATA_LOST as CONNECTIVITY_RESTORED_DATA_LOST
from bot.model.ib_errors import HMDS_ERROR as HMDS_ERROR
from bot.model.ib_errors import HMDS_FARM_BROKEN as HMDS_FARM_BROKEN
from bot.model.ib_errors import HMDS_FARM_OK as HMDS_FARM_OK
from bot.model.ib_errors import MARKET_FARM_BROKEN as MARKET_FARM_BROKEN
from bot.model.ib_errors import MARKET_FARM_OK as MARKET_FARM_OK
from bot.model.ib_errors import ORDER_REJECTED as ORDER_REJECTED

# ---- connectivity (system notices, reqId -1) ---------------------------------------------------
TEXT_1100 = "Connectivity between IB and Trader Workstation has been lost."
TEXT_1101 = "Connectivity between IB and Trader Workstation has been restored - data lost."
TEXT_1102 = "Connectivity between IB and Trader Workstation has been restored - data maintained."

# ---- data farms (warnings: ib_insync logs 2100-2199 as warnings) --------------------------------
MARKET_FARM = "usfarm"
HMDS_FARM = "ushmds"


def farm_text(code: int, farm: str) -> str:
    """2103-2106, the farm's name after a colon: "Market data farm connection is OK:usfarm"."""
    kind = "Market data" if code in (MARKET_FARM_BROKEN, MARKET_FARM_OK) else "HMDS data"
    state = "broken" if code in (MARKET_FARM_BROKEN, HMDS_FARM_BROKEN) else "OK"
    return f"{kind} farm connection is {state}:{farm}"


# ---- pacing -----------------------------------------------------------------------------------
MAX_RATE = 100
HMDS_PREFIX = "Historical Market Data Service error message:"
TEXT_PACING = HMDS_PREFIX + "Historical data request pacing violation"
PROCESSING_ERROR = 322
# The two letters after "-'" name IB's internal request handler and vary ('bS', 'wd' are seen).
TEXT_MAX_OPEN_HISTORICAL = (
    "Error processing request:-'bS' : cause - "
    "Only {limit} simultaneous API historical data requests allowed."
)


def max_rate_text(limit: int, received: int, times: int = 1) -> str:
    """Error 100 as IB words it, e.g. "...exceeded:max=50 rec=138 (1)"."""
    return f"Max rate of messages per second has been exceeded:max={limit} rec={received} ({times})"


# ---- historical data --------------------------------------------------------------------------
# IB serves ADJUSTED_LAST bars only up to now and only once (its docs: "cannot be used with
# keepUpToDate=True or an endDateTime"); the wording follows IB's answers to the same refusals
# for other requests ("End date not supported with live updates").
TEXT_ADJUSTED_LAST_LIVE = (
    "Error validating request.-'bX' : cause - Live updates not supported with ADJUSTED_LAST"
)
TEXT_ADJUSTED_LAST_END = HMDS_PREFIX + "End date not supported with adjusted last"


# ---- scanner ----------------------------------------------------------------------------------
# IB answers a scanner it will not run with 162 and "<what> is disabled."; the cancel of a
# scanner subscription is acknowledged with 162 "API scanner subscription cancelled: <reqId>".
def scanner_disabled_text(what: str) -> str:
    return f"{HMDS_PREFIX}{what} is disabled."


def scanner_cancelled_text(req_id: int) -> str:
    return f"{HMDS_PREFIX}API scanner subscription cancelled: {req_id}"


# ---- orders -----------------------------------------------------------------------------------
ORDER_REJECTED_PREFIX = "Order rejected - reason:"


def order_rejected_text(reason: str) -> str:
    """201's text: IB's prefix then the reason (a reason already prefixed is kept as is)."""
    if reason.startswith("Order rejected"):
        return reason
    return ORDER_REJECTED_PREFIX + reason


@dataclass(frozen=True, slots=True)
class IbError:
    """One error message to send: code and IB's text."""

    code: int
    text: str
