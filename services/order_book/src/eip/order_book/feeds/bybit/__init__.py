"""Bybit (2021 ``realtime`` API) ``orderBookL2_25`` / ``orderBook_200`` books."""

from eip.order_book.feeds.bybit.feed import BybitFeed

__all__ = ["BybitFeed"]
