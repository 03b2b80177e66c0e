"""Start the simulated IB Gateway in-process from a config's ``gateway:`` block.

One code path for every command that talks to "the embedded gateway": the daemon
(bot/live/daemon.py) and the one-shot tools (``ibbot scanner``, ``ibbot fundamentals``).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import TYPE_CHECKING

from bot.config.gateway import EmbeddedGatewayConfig

if TYPE_CHECKING:  # the gateway package is imported only when one is started
    from bot.gateway.pacing import PacingLimits
    from bot.gateway.server import Gateway
    from bot.sim.broker import BrokerConfig
    from bot.sim.market import Market

log = logging.getLogger(__name__)


async def start_embedded_gateway(
    g: EmbeddedGatewayConfig,
    *,
    end: datetime | None = None,
    market: Market | None = None,
    event_time: bool = False,
    history_only: bool = False,
    pacing: PacingLimits | None = None,
) -> Gateway:
    """A started gateway on a free loopback port; ``end`` stops its replay there, ``market``
    replays an already loaded market instead of loading ``g.data`` again. ``event_time``: a
    backtest's gateway, whose pacing rules (on wall time at IB) are off, so nothing it answers
    depends on how fast the machine is. ``history_only``: a history server for ``ibbot data
    download``, its clock standing at the end of the data, so all of it is history.
    ``pacing``: other historical pacing rules (a benchmark's scaled ones)."""
    from bot.gateway.pacing import PacingLimits
    from bot.gateway.server import Gateway, GatewayConfig

    start = g.start
    speed: float | None = g.speed
    if history_only:
        market = market or _load_market(g)
        start, speed = market.last_time(), None  # the clock stands still
    gcfg = GatewayConfig(
        host="127.0.0.1",
        port=0,
        data_dir=g.data,
        bar_seconds=g.bar_seconds,
        instruments_path=g.instruments,
        start=start,
        end=end,
        speed=speed,
        account=g.account,
        cash=g.cash,
        seed=g.seed,
        server_version=None,
        broker=broker_config(g),
        pacing=pacing or PacingLimits(enabled=not event_time),
        max_message_rate=0 if event_time else 50,
    )
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        # Its per-request lines would drown the bot's own; warnings still show.
        logging.getLogger("bot.gateway").setLevel(logging.WARNING)
    gateway = Gateway(gcfg, instruments=market.instruments if market else None, market=market)
    await gateway.start()
    log.info(
        "embedded simulated gateway on 127.0.0.1:%d (synthetic sample prices, clock %s)",
        gateway.port, "stopped" if speed is None else f"at {speed or 'max'}x",
    )  # fmt: skip
    return gateway


def _load_market(g: EmbeddedGatewayConfig) -> Market:
    from bot.sim.instruments import Instruments
    from bot.sim.market import Market

    return Market.load(g.data, Instruments.load(g.instruments), g.seed, g.bar_seconds)


def broker_config(g: EmbeddedGatewayConfig) -> BrokerConfig:
    """The simulated broker a config's ``gateway:`` block asks for (both backtest engines)."""
    from bot.sim.broker import BrokerConfig

    return BrokerConfig.of(g.participation, g.slippage_ticks, g.commission, fill_at=g.fill_at)
