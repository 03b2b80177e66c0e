"""whatToShow ADJUSTED_LAST: served as history ending now (the crafted market has no dividends
or splits, so it equals TRADES), refused with an endDateTime (162) or keepUpToDate (321) as
IB refuses it; and accepted by the config's bar specs for the warm-up."""

from __future__ import annotations

from datetime import timedelta

from gateway_helpers import DAY2, errors, ramp, settle
from ib_insync import IB

from bot.config.bars import BarSpec
from bot.gateway import ib_messages as M
from bot.gateway.server import Gateway


def _rows(bars: object) -> list[tuple[object, ...]]:
    return [(b.date, b.open, b.high, b.low, b.close, b.volume, b.barCount) for b in bars]  # type: ignore[attr-defined]


async def test_adjusted_last_equals_trades_without_corporate_actions(ib: IB) -> None:
    c = ramp()
    await ib.qualifyContractsAsync(c)
    adjusted = await ib.reqHistoricalDataAsync(c, "", "2 D", "5 mins", "ADJUSTED_LAST", True, 1)
    trades = await ib.reqHistoricalDataAsync(c, "", "2 D", "5 mins", "TRADES", True, 1)
    assert len(adjusted) == 78 and _rows(adjusted) == _rows(trades)
    assert all(b.volume > 0 for b in adjusted)  # last prices: volumes, unlike MIDPOINT's -1


async def test_adjusted_last_refuses_an_end_date_time(ib: IB) -> None:
    seen = errors(ib)
    c = ramp()
    await ib.qualifyContractsAsync(c)
    bars = await ib.reqHistoricalDataAsync(c, DAY2, "1 D", "1 min", "ADJUSTED_LAST", True, 1)
    assert not bars
    assert [(code, text) for _, code, text in seen] == [(162, M.TEXT_ADJUSTED_LAST_END)]


async def test_adjusted_last_refuses_keep_up_to_date(gateway: Gateway, ib: IB) -> None:
    await gateway.advance(timedelta(minutes=2))
    seen = errors(ib)
    c = ramp()
    await ib.qualifyContractsAsync(c)
    bars = await ib.reqHistoricalDataAsync(c, "", "300 S", "1 min", "ADJUSTED_LAST", True, 1, True)
    assert not bars
    assert [(code, text) for _, code, text in seen] == [(321, M.TEXT_ADJUSTED_LAST_LIVE)]
    await gateway.advance(timedelta(minutes=2))
    await settle(ib)
    assert not bars  # nothing streams after the refusal


async def test_adjusted_last_is_history_only(ib: IB) -> None:
    seen = errors(ib)
    c = ramp()
    await ib.qualifyContractsAsync(c)
    ib.reqRealTimeBars(c, 5, "ADJUSTED_LAST", True)
    await settle(ib)
    assert [code for _, code, _ in seen] == [321]
    assert "Invalid whatToShow 'ADJUSTED_LAST'" in seen[0][2]


def test_bar_spec_accepts_adjusted_last_for_the_warm_up() -> None:
    spec = BarSpec(what_to_show="ADJUSTED_LAST", warmup="5 D")
    assert (spec.what_to_show, spec.source) == ("ADJUSTED_LAST", "realtime")
