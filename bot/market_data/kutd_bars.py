"""keepUpToDate bars: IB's own bars, handed on once each when the next one starts."""

from __future__ import annotations

from bot.client.ib import BarData, BarDataList
from bot.market_data.bar_builder import price_problem
from bot.market_data.ib_stream import IbStream
from bot.market_data.streams import StreamBook, bar_time
from bot.model.events import Bar

_KUTD_KEEP = 64  # bars ib_insync may keep in its list (all of the warm-up stays until a trim)


def take_kutd(book: StreamBook, stream: IbStream, bars: BarDataList) -> None:
    """Hand on, in order, every bar before the last (in progress) not handed on yet."""
    if not bars:
        return
    symbol = stream.key.symbol
    last = bars[-1]
    if price_problem(last.open, last.high, last.low, last.close) is None:
        book.last_price[symbol] = last.close
    builder = stream.builder
    first = len(bars) - 1  # index of the oldest closed bar still to hand on
    while first > 0 and not _handed_on(stream, bars[first - 1]):
        first -= 1
    for bd in bars[first:-1]:
        bar = book.history_bar(stream, bd, "keepUpToDate bar")
        if bar is None:
            continue
        start, end = builder.bucket(bar.time)
        if builder.last_end is not None and start < builder.last_end:
            book.quality.drop(symbol, "out-of-order", "keepUpToDate bar")
            continue
        builder.last_end = end
        builder.emit(Bar(symbol, start, bar.open, bar.high, bar.low, bar.close, bar.volume,
                         int((end - start).total_seconds())))  # fmt: skip
        book.advance(end)
    if len(bars) > _KUTD_KEEP:
        del bars[:-2]  # ib_insync appends to this list for as long as it is subscribed


def _handed_on(stream: IbStream, bd: BarData) -> bool:
    """Whether this bar ends at or before the last one handed on (warm-up included)."""
    last_end = stream.builder.last_end
    if last_end is None:
        return False
    t = bar_time(bd, stream.builder.tz)
    return t is not None and stream.builder.bucket(t)[1] <= last_end
