"""Request type -> handler, for the session's dispatch (data and trading requests)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from bot.gateway import data_requests, trading_requests

if TYPE_CHECKING:
    from bot.gateway.session import Session

HANDLERS: dict[type, Callable[[Session, Any], None]] = {
    **data_requests.HANDLERS,
    **trading_requests.HANDLERS,
}
