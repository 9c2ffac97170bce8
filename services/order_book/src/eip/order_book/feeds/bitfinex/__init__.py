"""Bitfinex v2 ``book`` channel (P0..P4) with the connection-wide ``SEQ_ALL`` sequence."""

from eip.order_book.feeds.bitfinex.feed import BitfinexFeed

__all__ = ["BitfinexFeed"]
