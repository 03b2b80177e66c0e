"""Tick subscriptions: reqMktData or reqTickByTickData per symbol, each on a data line."""

from __future__ import annotations

from collections.abc import Callable

from bot.client.ib import IB, Contract, Ticker
from bot.market_data.data_lines import TICKS, DataLines
from bot.market_data.streams import StreamBook
from bot.market_data.tick_filter import TickFilter, is_trade, tbt_tick
from bot.market_data.tick_times import keep_tick_times


class TickSubscriptions:
    """The book's declared ticks (``contracts``, ``book.tick_by_tick``) as live tickers."""

    def __init__(
        self, ib: IB, book: StreamBook, contracts: dict[str, Contract], lines: DataLines,
        check: TickFilter,
    ) -> None:  # fmt: skip
        self.ib = ib
        self.book = book
        self.contracts = contracts
        self.lines = lines
        self.check = check
        self._tickers: dict[str, Ticker] = {}

    def start(self) -> None:
        """Subscribe every declared symbol not subscribed yet, while data lines last."""
        for symbol, contract in self.contracts.items():
            if symbol in self._tickers or not self.lines.take((TICKS, symbol), TICKS,
                                                              f"{symbol} ticks"):  # fmt: skip
                continue
            what = self.book.tick_by_tick.get(symbol)
            if what is None:
                ticker = self.ib.reqMktData(contract, "", False, False)
                ticker.updateEvent += self._tick_handler(symbol)
            else:
                keep_tick_times(self.ib)
                ticker = self.ib.reqTickByTickData(contract, what)
                ticker.updateEvent += self._tbt_handler(symbol)
            self._tickers[symbol] = ticker

    def remove(self, symbol: str) -> None:
        """Cancel ``symbol``'s ticker (when connected); its line is no longer wanted."""
        ticker = self._tickers.pop(symbol, None)
        if ticker is not None:
            self._cancel(symbol, ticker, self.ib.isConnected())
        self.lines.forget((TICKS, symbol))

    def cancel_all(self, connected: bool) -> None:
        for symbol, ticker in self._tickers.items():
            self._cancel(symbol, ticker, connected)
        self._tickers.clear()

    def _cancel(self, symbol: str, ticker: Ticker, connected: bool) -> None:
        ticker.updateEvent.clear()
        self.lines.release((TICKS, symbol))
        contract = self.contracts.get(symbol)
        if not connected or contract is None:
            return
        what = self.book.tick_by_tick.get(symbol)
        if what is None:
            self.ib.cancelMktData(contract)
        else:
            self.ib.cancelTickByTickData(contract, what)

    def _tick_handler(self, symbol: str) -> Callable[[Ticker], None]:
        book = self.book

        def on_ticker(ticker: Ticker) -> None:
            tick = self.check.tick_of(symbol, ticker)
            if tick is not None and book.on_tick is not None:
                book.ticks_out += 1
                book.on_tick(tick)

        return on_ticker

    def _tbt_handler(self, symbol: str) -> Callable[[Ticker], None]:
        book = self.book

        def on_ticker(ticker: Ticker) -> None:
            for item in ticker.tickByTicks:  # this socket read's items (ib_insync resets it)
                tick = self.check.checked(tbt_tick(symbol, item), trade=is_trade(item))
                if tick is not None and book.on_tick is not None:
                    book.ticks_out += 1
                    book.on_tick(tick)

        return on_ticker
