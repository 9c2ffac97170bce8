"""BitMEX frames through the native adapter's parse (``eip.exchanges.bitmex``).

Instrument → symbol comes from ``bitmex.symbols.instrument_symbol`` over the rows the capture
holds: a recorded ``/instrument`` body and the ``instrument`` table's rows (its ``partial``
carries ``typ``, ``underlying``, ``quoteCurrency``, ``settlCurrency``).
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from eip.exchanges.bitmex.book import header_book_symbol, recorded_book_symbols
from eip.exchanges.bitmex.symbols import instrument_symbol
from eip.exchanges.bitmex.wire import TickerState, trade
from eip.exchanges.contract.market_data import Ticker, Trade
from eip.exchanges.machinery.capture import BookCaptureDialect, Capture
from eip.exchanges.machinery.replay.parser import Decoded, ReplayDialect
from eip.exchanges.machinery.replay.result import Channel

_TABLES: dict[str, Channel] = {"trade": "trades", "quote": "ticker", "instrument": "ticker"}


class BitmexReplay:
    def __init__(self, capture: Capture) -> None:
        self.symbols: dict[str, str] = {}
        self.tickers: dict[str, TickerState] = {}
        for url, body in capture.http.items():
            if "/instrument" in url:
                rows = json.loads(body)
                if isinstance(rows, list):
                    self._learn(rows)

    def _learn(self, rows: list[Any]) -> None:
        for row in rows:
            if isinstance(row, dict) and "typ" in row and "underlying" in row:
                symbol = instrument_symbol(row)
                if symbol is not None:
                    self.symbols[str(row["symbol"])] = symbol

    def classify(self, message: Any) -> tuple[Channel, str] | None:
        if not isinstance(message, dict) or message.get("table") not in _TABLES:
            return None
        data = message.get("data") or [{}]
        name = data[0].get("symbol", "?") if isinstance(data[0], dict) else "?"
        return _TABLES[message["table"]], str(name)

    def _symbol(self, name: Any) -> str:
        symbol = self.symbols.get(str(name))
        if symbol is None:
            raise ValueError(f"BitMEX instrument {name!r} not described in the capture")
        return symbol

    def parse(self, message: Any, received: datetime) -> list[Trade | Ticker]:
        if not isinstance(message, dict) or message.get("table") not in _TABLES:
            return []
        table, rows = message["table"], message.get("data") or []
        if table == "instrument":
            self._learn(rows)
        out: list[Trade | Ticker] = []
        for row in rows:
            symbol = self._symbol(row["symbol"])
            if table == "trade":
                out.append(trade(symbol, row, received))
                continue
            state = self.tickers.setdefault(symbol, TickerState(symbol))
            on = state.on_quote if table == "quote" else state.on_instrument
            out.append(on(row, received))
        return out


def _parser(capture: Capture, frames: list[Decoded]) -> BitmexReplay:
    return BitmexReplay(capture)


def _always(frames: list[Decoded]) -> bool:
    return True


# BitMEX sends numbers as JSON numbers: frames are read with them as Decimal, as live reads them
DIALECT = ReplayDialect(parser=_parser, decimal_numbers=_always)


# books: symbols from the recorded orderBookL2 subscriptions through the recorded instruments
BOOK_CAPTURE = BookCaptureDialect(symbols=recorded_book_symbols, header_symbol=header_book_symbol)
