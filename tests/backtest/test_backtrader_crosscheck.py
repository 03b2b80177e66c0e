"""backtrader cross-check: ibbot's sma_crossover (10/30, long/flat, 100 shares, 1-minute bars)
and the same rules in backtrader (bench/backtrader_sma.py) make the same round trips on a slice
of the sample: entry and exit time and price, and quantity, one to one.

Both see the same bars: the warm-up is ``WARMUP_DAYS`` trading days read before ``FIRST``
(ibbot's "N D" warm-up from --from's regular open), fed to backtrader too, which trades only
from FIRST's open as ibbot does. Market orders fill at the next bar's open (backtrader's
default): the config says ``fill_at: last`` (the trade price, no quoted spread) and
``commission: none``, as backtrader assumes.

Timestamps. ibbot's trades.csv times are fill times: the time of the price the order filled at.
backtrader's are bar times: the start of the bar whose open filled it (its data is dated by bar
start, as IB and the sample are). A fill at the next bar's open is in that bar, so ibbot's time
is mapped to the start of the 1-minute bar that contains it: the in-process engine's fill at the
bar's open maps to itself, the gateway's fill on its first tick (about a second in) to the same
bar start.

Prices must match exactly, on both engines.
"""

from __future__ import annotations

import math
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest

from bench import backtrader_sma as btsma
from bench import ibbot_backtest as ib
from bot.sim.instruments import Instruments

SYMBOLS = ("AAPL", "MSFT", "NVDA")
FIRST, LAST = date(2026, 10, 2), date(2026, 10, 5)  # a Friday and a Monday: one overnight gap
WARMUP_DAYS = 1  # 2026-10-01, the sample's first day
BAR = timedelta(minutes=1)
FIELDS = ("symbol", "quantity", "entry_time", "entry_price", "exit_time", "exit_price")


def _bar_start(fill_time: str) -> datetime:
    """The start of the 1-minute bar holding this fill (module doc: Timestamps)."""
    t = datetime.fromisoformat(fill_time).astimezone(UTC)
    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + (t - epoch) // BAR * BAR


def _ibbot_trip(r: dict[str, str]) -> btsma.RoundTrip:
    return btsma.RoundTrip(r["symbol"], float(r["quantity"]), _bar_start(r["entry_time"]),
                           float(r["entry_price"]), _bar_start(r["exit_time"]),
                           float(r["exit_price"]))  # fmt: skip


def _ibbot_trips(rows: list[dict[str, str]]) -> list[btsma.RoundTrip]:
    trips = [_ibbot_trip(r) for r in rows if r["direction"] == "LONG"]
    assert len(trips) == len(rows), "long/flat made a SHORT round trip"
    return trips


def _same(a: btsma.RoundTrip, b: btsma.RoundTrip, tol: float) -> bool:
    return (
        a.symbol == b.symbol
        and a.quantity == b.quantity
        and a.entry_time == b.entry_time
        and a.exit_time == b.exit_time
        and math.isclose(a.entry_price, b.entry_price, abs_tol=tol)
        and math.isclose(a.exit_price, b.exit_price, abs_tol=tol)
    )


def _row(t: btsma.RoundTrip | None) -> str:
    if t is None:
        return "(none)"
    return (f"{t.symbol:5} {t.quantity:>4g}  {t.entry_time:%m-%d %H:%M} @ {t.entry_price:<9g} -> "
            f"{t.exit_time:%m-%d %H:%M} @ {t.exit_price:g}")  # fmt: skip


def diff(ours: list[btsma.RoundTrip], theirs: list[btsma.RoundTrip], tol: float) -> str:
    """'' when the round trips agree one to one, else the first mismatches side by side."""
    key = lambda t: (t.symbol, t.entry_time)  # noqa: E731
    ours, theirs = sorted(ours, key=key), sorted(theirs, key=key)
    n = max(len(ours), len(theirs))
    bad = [
        i
        for i in range(n)
        if i >= len(ours) or i >= len(theirs) or not _same(ours[i], theirs[i], tol)
    ]
    if not bad:
        return ""
    lines = [
        f"{len(bad)} of {n} round trips differ (ibbot {len(ours)}, backtrader {len(theirs)}; "
        f"prices within {tol:g}); the first:"
    ]
    for i in bad[:5]:
        a = ours[i] if i < len(ours) else None
        b = theirs[i] if i < len(theirs) else None
        lines += [f"  #{i:<3} ibbot      {_row(a)}", f"       backtrader {_row(b)}"]
    return "\n".join(lines)


def test_diff_names_the_first_mismatch() -> None:
    t0 = datetime(2026, 10, 2, 13, 31, tzinfo=UTC)
    a = btsma.RoundTrip("AAPL", 100, t0, 229.75, t0 + 5 * BAR, 230.24)
    b = btsma.RoundTrip("AAPL", 100, t0, 229.75, t0 + 6 * BAR, 230.24)
    assert diff([a], [a], 0.0) == ""
    text = diff([a], [b], 0.0)
    assert "1 of 1 round trips differ" in text
    assert "13:36" in text and "13:37" in text
    assert "(none)" in diff([a], [], 0.0)


def test_fill_time_maps_to_its_bar_start() -> None:
    assert _bar_start("2026-10-02T13:31:01+00:00") == datetime(2026, 10, 2, 13, 31, tzinfo=UTC)
    assert _bar_start("2026-10-02T13:31:00+00:00") == datetime(2026, 10, 2, 13, 31, tzinfo=UTC)


@pytest.mark.parametrize("engine", ["inprocess", "gateway"])
def test_same_round_trips_as_backtrader(engine: str, tmp_path: Path) -> None:
    config = tmp_path / "sma.yaml"
    config.write_text(ib.sma_config(SYMBOLS, warmup_days=WARMUP_DAYS))
    run = ib.backtest(config, FIRST, LAST, tmp_path / "out", engine=engine, timeout=120).check()

    instruments = Instruments.load(ib.INSTRUMENTS)
    windows = [
        btsma.load_window(ib.SAMPLE, instruments, s, FIRST, LAST, WARMUP_DAYS) for s in SYMBOLS
    ]
    theirs, _ = btsma.run(windows, fast=10, slow=30, quantity=100)
    rows = run.trades()
    ours = _ibbot_trips(rows)
    assert ours, "ibbot made no round trip: the slice cannot cross-check anything"

    problems = diff(ours, theirs, 1e-9)
    assert not problems, f"engine {run.engine}:\n{problems}"
    paid = [float(r["commission"]) for r in rows]
    assert not any(paid), f"commission: none, yet ibbot charged {sum(paid):g}"
