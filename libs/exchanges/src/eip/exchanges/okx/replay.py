"""How OKX captures replay through the book adapter: channel and symbols from the recorded
subscriptions, mapped through the recorded instrument lists; header names (``BTC-USDT-PERP``,
``BTC-USD-22K27``) through the venue's instruments. Trades and tickers replay through ccxt."""

from __future__ import annotations

from typing import Any

from eip.exchanges.machinery.capture import BookCaptureDialect, Entries
from eip.exchanges.okx.book import recorded_book_channel, recorded_book_symbols
from eip.exchanges.okx.symbols import header_book_symbol


def _book_settings(entries: Entries) -> dict[str, Any]:
    return {"channel": recorded_book_channel(entries)}


BOOK_CAPTURE = BookCaptureDialect(
    symbols=recorded_book_symbols, settings=_book_settings, header_symbol=header_book_symbol
)
