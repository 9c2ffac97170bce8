"""How KuCoin captures replay through the book adapter: symbols from the recorded
``/market/level2:`` subscriptions, the snapshot endpoint from the recorded http lines. Trades and
tickers replay through ccxt."""

from __future__ import annotations

from typing import Any

from eip.exchanges.kucoin.book import recorded_book_symbols, recorded_snapshot_path
from eip.exchanges.machinery.capture import BookCaptureDialect, Entries


def _book_settings(entries: Entries) -> dict[str, Any]:
    return {"snapshot_path": recorded_snapshot_path(entries)}


BOOK_CAPTURE = BookCaptureDialect(symbols=recorded_book_symbols, settings=_book_settings)
