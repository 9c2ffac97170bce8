"""Binance spot: REST depth snapshot + ``<symbol>@depth@100ms`` diffs, synced by update ids."""

from eip.order_book.feeds.binance.feed import BinanceFeed
from eip.order_book.feeds.binance.sync import DepthSync, Verdict

__all__ = ["BinanceFeed", "DepthSync", "Verdict"]
