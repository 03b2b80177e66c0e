"""What the daemon tells its operator: a one-line status every ``status_interval`` and a summary
when it stops. Read-only views of the router, feed and executor."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Protocol

from bot.risk.manager import RiskManager

if TYPE_CHECKING:
    from bot.config.bot_config import BotConfig
    from bot.live.daemon import Daemon
    from bot.live.ib_pnl import IbPnl
    from bot.trading.router import Clock, Router


class RunView(Protocol):
    """What the summary reads of a run: the daemon's, or an in-process backtest's."""

    cfg: BotConfig
    clock: Clock
    account: str
    dry_run: bool
    stop_reason: str

    @property
    def router(self) -> Router | None: ...

    @property
    def feed(self) -> Any: ...

    @property
    def uptime(self) -> float: ...

    @property
    def ib_pnl(self) -> IbPnl | None:
        """IB's own P&L subscriptions (None: not subscribed, e.g. a backtest)."""


def _signed(x: float) -> str:
    return f"{x:+.2f}"


def _positions(pos: dict[str, float]) -> str:
    if not pos:
        return "flat"
    return " ".join(f"{s} {q:+g}" for s, q in sorted(pos.items()))


def _ib(x: float | None) -> str:
    return "n/a" if x is None else _signed(x)


def _ib_today(d: RunView) -> str:
    """`` (IB +12.30)``: IB's daily P&L of the account beside the bot's own, when subscribed."""
    return "" if d.ib_pnl is None else f" (IB {_ib(d.ib_pnl.account_daily())})"
def _not_active(router: Router, now: Any) -> list[str]:
    risk = router.risk
    return risk.not_active(now) if isinstance(risk, RiskManager) else []


def _risk(router: Router, now: Any) -> str:
    states = _not_active(router, now)
    return f" | risk: {'; '.join(states)}" if states else ""


def _connection(d: Daemon) -> str:
    """The supervisor's state: ``connected``, else e.g. ``reconnecting since ...: socket lost``."""
    if d.supervisor is None:
        return "connecting"
    c = d.supervisor.status()
    return c.name if c.ok else c.describe()


def status_line(d: Daemon) -> str:
    """e.g. ``status: connected | 3 symbols, 1 strategy | AAPL +10 | PnL today +12.50 | ...``"""
    router, feed = d.router, d.feed
    assert router is not None and feed is not None
    c = router.counters
    conn = _connection(d)
    running = sum(1 for s in router.slots.values() if s.enabled)
    disabled = len(router.slots) - running
    strategies = f"{running} strateg{'y' if running == 1 else 'ies'}"
    if disabled:
        strategies += f" ({disabled} disabled)"
    return (
        f"status: {conn} | {len(d.infos)} symbols, {strategies} | "
        f"positions {_positions(router.positions())} | "
        f"PnL today {_signed(router.pnl_today())}{_ib_today(d)}{_risk(router, d.clock.now())} | "
        f"orders today {c.orders_today}, fills {c.fills}, rejections {c.rejections} | "
        f"bars {c.bars}, dropped {feed.quality.total} | "
        f"{d.clock.now():%Y-%m-%d %H:%M:%S} UTC"
    )


def summary_text(d: RunView) -> str:
    """The end-of-run report: per strategy, totals, data quality."""
    router, feed = d.router, d.feed
    assert router is not None and feed is not None
    c = router.counters
    lines = [
        "",
        "=" * 72,
        f"ibbot run summary{' (DRY RUN: nothing was sent)' if d.dry_run else ''}",
        f"  account {d.account}, mode {d.cfg.mode}, stopped: {d.stop_reason or 'normally'}",
        f"  wall time {d.uptime:.1f} s, market time up to {d.clock.now():%Y-%m-%d %H:%M} UTC",
        f"  bars: {feed.warmup_bars} warm-up, {c.bars} live; ticks {c.ticks}; "
        f"orders {c.orders}, fills {c.fills}, rejections {c.rejections}",
    ]
    dropped = feed.quality.by_reason()
    if dropped:
        parts = ", ".join(f"{k} {v}" for k, v in sorted(dropped.items()))
        lines.append(f"  data quality: dropped {feed.quality.total} ({parts})")
    for kill in c.kills:
        lines.append(f"  kill switch: {kill}")
    ib = d.ib_pnl
    lines += [f"  risk: {text}" for text in _not_active(router, d.clock.now())]
    lines.append(
        f"  {'strategy':<18}{'state':<10}{'bars':>7}{'intents':>9}{'fills':>7}"
        f"{'rejects':>9}{'errors':>8}{'PnL':>12}{'today':>10}{'IB today' if ib else '':>10}"
        .rstrip()
    )
    for sid, slot in router.slots.items():
        state = "running" if slot.enabled else "disabled"
        ib_col = "" if ib is None else _ib(ib.daily(slot.ctx.symbols))
        lines.append(
            f"  {sid:<18}{state:<10}{slot.bars:>7}{slot.intents:>9}{slot.fills:>7}"
            f"{slot.rejections:>9}{slot.errors:>8}{router.pnl.total(sid):>12.2f}"
            f"{router.pnl.today(sid):>10.2f}{ib_col:>10}".rstrip()
        )
    lines.append(f"  positions: {_positions(router.positions())}")
    lines.append(f"  PnL (after commissions): {_signed(router.pnl_total())}")
    lines.append(f"  PnL today: {_signed(router.pnl_today())}{_ib_today(d)}")
    lines.append("=" * 72)
    return "\n".join(lines)
