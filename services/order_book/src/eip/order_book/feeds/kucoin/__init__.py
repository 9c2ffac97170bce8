"""KuCoin spot ``/market/level2`` books (REST snapshot + ``trade.l2update`` sequences)."""

from eip.order_book.feeds.kucoin.feed import KucoinFeed

__all__ = ["KucoinFeed"]
