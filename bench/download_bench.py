"""Download time of ``ibbot data download`` against the least time IB's pacing rules allow.

Usage: ``python bench/download_bench.py [--symbols N] [--days N] [--pacing-scale F]``.

The download: the first ``--symbols`` (default 25) sample stocks, 1 year (``--duration 1Y``) of
15-minute bars, from the embedded simulated gateway with IB's historical pacing rules on (60
requests in any 10 minutes, no identical request within 15 s, 6 per contract in 2 s, 50 open)
in real (wall) time. Its data: ``--days`` (default 252) trading days of seeded synthetic
15-minute bars (bot/research/data/synth.py) written to a temporary folder first, untimed; so is the
gateway's start. Timed: from the downloader's start to the last window stored (every request,
answer and store write), into an empty temporary store.

IB caps a request of 15-minute bars at 1 W (its step-size table), so a year is ~53 requests a
symbol, ~1,325 for 25: the 60-per-10-minutes rule then needs at least floor((N - 1) / 60) x 10
minutes, 3 h 40 min for 1,325. A real-time run that long is no benchmark, so by default the
pacing clock runs 50 times as fast on both sides (``--pacing-scale 0.02``: 60 requests in any
12 s, 15 s -> 0.3 s, 2 s -> 0.04 s, in the gateway's rules and the bot's governor alike); the
figure is the same ratio, measured against the minimum of the scaled rules. ``--pacing-scale 1``
runs IB's real clock.

Printed: requests, the minimum the rules allow, the measured time, their ratio (target <= 1.1),
the bars stored and the 162 pacing violations the gateway answered (expected 0).
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # run as a script
    sys.path.insert(0, str(REPO))

from bot.commands import data_download  # noqa: E402
from bot.config.gateway import GatewaySettings  # noqa: E402
from bot.gateway import pacing_rules as pacing  # noqa: E402
from bot.research.data.download import Downloader  # noqa: E402
from bot.research.data.download_plan import RangeSpec  # noqa: E402
from bot.research.data.download_progress import duration_text  # noqa: E402
from bot.research.data.synth import write_sample  # noqa: E402
from bot.sim.instruments import DEFAULT_INSTRUMENTS_FILE, Instruments  # noqa: E402
from bot.tools.session import Target, run_tool  # noqa: E402

START = date(2025, 10, 1)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--symbols", type=int, default=25, help="default 25")
    p.add_argument("--days", type=int, default=252, help="trading days of data (default 252)")
    p.add_argument("--pacing-scale", type=float, default=0.02, help="default 0.02 (50x)")
    args = p.parse_args()
    instruments = Instruments.load(DEFAULT_INSTRUMENTS_FILE)
    symbols = [i.local_symbol for i in instruments if i.sec_type == "STK"][: args.symbols]
    with tempfile.TemporaryDirectory() as tmp:
        data, store = Path(tmp) / "data", Path(tmp) / "store"
        write_sample(data, symbols, START, args.days, 900, 1, instruments)
        timed = _timed_downloads()
        violations = _counted_violations()
        request = data_download.Request(tuple(symbols), 900, RangeSpec.parse("1Y"), "TRADES",
                                        store, None)  # fmt: skip
        target = Target("127.0.0.1", 0, 900, 60.0, GatewaySettings(data=data),
                        history_only=True, pacing_scale=args.pacing_scale)  # fmt: skip
        code = run_tool("download bench", target,
                        lambda ib, t: data_download.download(ib, t, request))  # fmt: skip
        if code != 0:
            print(f"the download failed (exit {code})", file=sys.stderr)
            return code
        files = len(list(store.glob("*/15min.parquet")))
        _report(args, symbols, timed, violations, files)
    return 0


def _timed_downloads() -> dict[str, float]:
    """Wraps Downloader.run to time it and count its requests."""
    seen: dict[str, float] = {}
    run = Downloader.run

    async def timed(self: Downloader, jobs):  # type: ignore[no-untyped-def]
        t0 = time.perf_counter()
        tallies = await run(self, jobs)
        seen["seconds"] = time.perf_counter() - t0
        seen["requests"] = sum(t.requests for t in tallies)
        seen["bars"] = sum(t.added for t in tallies)
        seen["window"] = self.governor.limits.window_s
        return tallies

    Downloader.run = timed  # type: ignore[method-assign]
    return seen


def _counted_violations() -> list[str]:
    """The pacing rules the gateway saw broken (each would be a 162 or 322 at IB)."""
    broken: list[str] = []
    check = pacing.HistoricalPacer._violation

    def counted(self, books, key, now):  # type: ignore[no-untyped-def]
        v = check(self, books, key, now)
        if v is not None:
            broken.append(v.rule)
        return v

    pacing.HistoricalPacer._violation = counted  # type: ignore[method-assign]
    return broken


def _report(
    args: argparse.Namespace, symbols: list[str], timed: dict[str, float], broken: list[str],
    files: int,
) -> None:  # fmt: skip
    n, window = int(timed["requests"]), timed["window"]
    least = (n - 1) // 60 * window
    ratio = timed["seconds"] / least if least else float("nan")
    real = (n - 1) // 60 * 600
    print(f"download bench: {len(symbols)} symbols x 1 year of 15-minute bars "
          f"({args.days} trading days of synthetic data), pacing scale {args.pacing_scale:g} "
          f"(10-minute window = {window:g} s)")  # fmt: skip
    print(f"  requests                 {n} ({files} files, {int(timed['bars']):,} bars stored)")
    print(f"  minimum by IB's rules    {least:.1f} s  (floor((N-1)/60) windows; "
          f"{duration_text(real)} on IB's real clock)")  # fmt: skip
    print(f"  measured                 {timed['seconds']:.1f} s")
    print(f"  ratio                    {ratio:.3f}  (target <= 1.1)")
    rules = f" ({', '.join(broken)})" if broken else ""
    print(f"  pacing violations        {len(broken)}{rules}")


if __name__ == "__main__":
    raise SystemExit(main())
