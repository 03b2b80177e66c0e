"""Start the simulated IB Gateway in-process from a config's ``gateway:`` block.

One code path for every command that talks to "the embedded gateway": the daemon
(bot/live/daemon.py) and the one-shot tools (``ibbot scanner``, ``ibbot fundamentals``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from bot.config.gateway import GatewaySettings

if TYPE_CHECKING:  # the gateway package is imported only when one is started
    from bot.gateway.pacing_rules import PacingLimits
    from bot.gateway.server import Gateway
    from bot.sim.market import Market

log = logging.getLogger(__name__)


async def start_embedded_gateway(
    g: GatewaySettings,
    *,
    end: datetime | None = None,
    market: Market | None = None,
    event_time: bool = False,
    history_only: bool = False,
    pacing: PacingLimits | None = None,
) -> Gateway:
    """A started gateway (by default on a free loopback port); ``end`` stops its replay
    there, ``market`` replays an already loaded market instead of loading ``g.data`` again.
    ``event_time``: a backtest's gateway, whose pacing rules (on wall time at IB) are off, so
    nothing it answers depends on how fast the machine is. ``history_only``: a history server
    for ``ibbot data download``, its clock standing at the end of the data, so all of it is
    history. ``pacing``: other historical pacing rules (a benchmark's scaled ones)."""
    from bot.gateway.server import Gateway, GatewayTuning

    if history_only:
        market = market or _load_market(g)
        # The clock stands still at the end of the data.
        g = g.model_copy(update={"start": market.last_time(), "speed": None})
    if event_time:
        g = g.model_copy(update={"pacing": False})
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # Its per-request lines would drown the bot's own; warnings still show.
        logging.getLogger("bot.gateway").setLevel(logging.WARNING)
    tuning = GatewayTuning(end=end, pacing=pacing)
    instruments = market.instruments if market else None
    gateway = Gateway(g, tuning=tuning, instruments=instruments, market=market)
    await gateway.start()
    log.info(
        "embedded simulated gateway on %s:%d (synthetic sample prices, clock %s)",
        g.host, gateway.port, "stopped" if g.speed is None else f"at {g.speed or 'max'}x",
    )  # fmt: skip
    return gateway


def _load_market(g: GatewaySettings) -> Market:
    from bot.sim.instruments import Instruments
    from bot.sim.market import Market

    return Market.load(g.data, Instruments.load(g.instruments), g.seed, g.bar_seconds)
