"""Kraken spot ``book`` channel with CRC32 checksum verification (WebSocket v2 live, v1 too)."""

from eip.order_book.feeds.kraken.checksum import book_checksum, checksum_string
from eip.order_book.feeds.kraken.feed import KrakenFeed

__all__ = ["KrakenFeed", "book_checksum", "checksum_string"]
