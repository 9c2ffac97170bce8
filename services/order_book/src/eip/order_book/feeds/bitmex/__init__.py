"""BitMEX ``orderBookL2``: levels keyed by id, rebuilt from ``partial``, kept by id."""

from eip.order_book.feeds.bitmex.feed import BitmexFeed

__all__ = ["BitmexFeed"]
