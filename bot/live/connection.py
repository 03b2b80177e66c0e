"""Where the daemon connects (TWS / IB Gateway, or its embedded simulated gateway), with which
client id, and which account it trades."""

from __future__ import annotations

import logging
from typing import Any

from bot.client.ib import IB, describe
from bot.config.ib import IBConfig
from bot.live.supervisor import connect_with_client_ids
from bot.trading.kernel import StartupError

log = logging.getLogger(__name__)


def address(ib_cfg: IBConfig, gateway: Any) -> str:
    """host:port of the configured IB, or the embedded gateway's (``gateway``: None if none)."""
    if gateway is not None:
        return f"{gateway.config.host}:{gateway.port} (embedded gateway)"
    return f"{ib_cfg.host}:{ib_cfg.port}"


async def connect(ib: IB, ib_cfg: IBConfig, gateway: Any, *, readonly: bool) -> int:
    """Connect with the configured client id, or (326) the next free of its tries: the one
    connected."""
    host, port = ib_cfg.host, ib_cfg.port
    if gateway is not None:
        host, port = gateway.config.host, int(gateway.port)

    async def connect_as(client_id: int) -> None:
        await ib.connectAsync(
            host,
            port,
            clientId=client_id,
            timeout=ib_cfg.connect_timeout,
            readonly=readonly,
            account=ib_cfg.account or "",
        )

    client_id = await connect_with_client_ids(ib, connect_as, ib_cfg.client_id,
                                              ib_cfg.client_id_tries)  # fmt: skip
    log.info("connected to %s as client %d (%s)", address(ib_cfg, gateway), client_id, describe())
    return client_id


def choose_account(ib: IB, wanted: str | None) -> str:
    """The configured account (it must be one this login manages), else the first managed."""
    managed = ib.managedAccounts()
    if wanted:
        if managed and wanted not in managed:
            raise StartupError(
                f"account {wanted} is not managed by this login (it has: {', '.join(managed)})"
            )
        return wanted
    if not managed:
        raise StartupError("IB reported no managed account")
    return managed[0]
