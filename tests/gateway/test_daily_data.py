"""A daily source file (dates alone, Yahoo-style) behind the simulated gateway: reqHistoricalData
'1 day' bars are the file's rows, and the market streams each bar over its regular session."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from pathlib import Path

from gateway_helpers import client, make_config, settle
from ib_insync import Stock
from order_market import INSTRUMENTS_YAML

from bot.gateway.server import Gateway

ROWS = [  # Thursday to Tuesday around the end of US daylight saving (Sunday 2026-11-01)
    (date(2026, 10, 29), 100.0, 101.5, 99.5, 101.0, 1_000_000.0),
    (date(2026, 10, 30), 101.0, 102.0, 100.25, 101.75, 1_100_000.0),
    (date(2026, 11, 2), 101.75, 103.0, 101.0, 102.5, 1_200_000.0),
    (date(2026, 11, 3), 102.5, 102.75, 100.0, 100.5, 1_300_000.0),
]


def _files(root: Path) -> tuple[Path, Path]:
    data = root / "data"
    data.mkdir()
    lines = ["Date,Open,High,Low,Close,Adj Close,Volume"]
    lines += [f"{d},{o},{h},{lo},{c},{c * 0.99},{v:.0f}" for d, o, h, lo, c, v in ROWS]
    (data / "STEP.csv").write_text("\n".join(lines) + "\n")
    (root / "instruments.yaml").write_text(INSTRUMENTS_YAML)
    return data, root / "instruments.yaml"


async def test_one_day_bars_from_a_daily_file(tmp_path: Path) -> None:
    start = datetime(2026, 11, 3, 15, tzinfo=UTC)  # Tuesday 10:00 New York: bar in progress
    gw = Gateway(*make_config(_files(tmp_path), start=start))
    await gw.start()
    try:
        async with client(gw) as ib:
            c = Stock("STEP", "SMART", "USD")
            await ib.qualifyContractsAsync(c)
            bars = await ib.reqHistoricalDataAsync(c, "", "10 D", "1 day", "TRADES", True, 1)
            got = [(b.date, b.open, b.high, b.low, b.close, b.volume) for b in bars]
            assert got[:3] == ROWS[:3]
            today = bars[3]
            assert today.date == date(2026, 11, 3) and today.open == 102.5
            assert 100.0 <= today.low <= today.high <= 102.75 and today.volume < 1_300_000
            head = await ib.reqHeadTimeStampAsync(c, "TRADES", True, 1)
            assert head.astimezone(UTC) == datetime(2026, 10, 29, 13, 30, tzinfo=UTC)
            ticker = ib.reqMktData(c)
            await gw.advance(timedelta(hours=6))  # to 16:00 New York, the close
            await settle(ib)
            assert ticker.last == 100.5 and ticker.close == 102.5  # prev close: Monday's
    finally:
        await gw.stop()
