"""OKX v5 order books (``books``, ``books-l2-tbt``, ...) with the venue's CRC32 checksum."""

from eip.order_book.feeds.okx.feed import OkxFeed

__all__ = ["OkxFeed"]
