"""How HTX (Huobi) captures replay through the book adapter: symbols from the recorded
``depth.step0`` subscriptions. Trades and tickers replay through ccxt."""

from __future__ import annotations

from eip.exchanges.htx.book import recorded_book_symbols
from eip.exchanges.machinery.capture import BookCaptureDialect

BOOK_CAPTURE = BookCaptureDialect(symbols=recorded_book_symbols)
