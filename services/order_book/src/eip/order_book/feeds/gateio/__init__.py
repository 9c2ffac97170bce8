"""Gate.io spot v4 ``spot.order_book_update`` books (REST snapshot + ``U``/``u`` ids)."""

from eip.order_book.feeds.gateio.feed import GateioFeed

__all__ = ["GateioFeed"]
