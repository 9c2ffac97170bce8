"""How Bitfinex captures replay through the book adapter: book symbols, ``prec`` and ``len``
from the recorded subscriptions; header names through the venue's symbols (``tBTCF0:USTF0``).
Trades and tickers replay through ccxt."""

from __future__ import annotations

from typing import Any

from eip.exchanges.bitfinex.book import recorded_book_settings
from eip.exchanges.bitfinex.symbols import header_book_symbol
from eip.exchanges.machinery.capture import BookCaptureDialect, Entries


def _book_symbols(entries: Entries) -> list[str]:
    return recorded_book_settings(entries)[0]


def _book_settings(entries: Entries) -> dict[str, Any]:
    return dict(recorded_book_settings(entries)[1])


BOOK_CAPTURE = BookCaptureDialect(
    symbols=_book_symbols, settings=_book_settings, header_symbol=header_book_symbol
)
