"""Coinbase Advanced Trade ``level2`` with per-connection ``sequence_num`` gap detection."""

from eip.order_book.feeds.coinbase.feed import CoinbaseFeed

__all__ = ["CoinbaseFeed"]
