"""How Gate.io captures replay through the book adapter: pairs (and their recorded spelling)
from the recorded ``spot.order_book_update`` subscriptions. Trades and tickers replay through
ccxt."""

from __future__ import annotations

from typing import Any

from eip.exchanges.gateio.book import recorded_book_venues
from eip.exchanges.machinery.capture import BookCaptureDialect, Entries


def _book_symbols(entries: Entries) -> list[str]:
    return list(recorded_book_venues(entries))


def _book_settings(entries: Entries) -> dict[str, Any]:
    return {"venues": recorded_book_venues(entries)}


BOOK_CAPTURE = BookCaptureDialect(symbols=_book_symbols, settings=_book_settings)
