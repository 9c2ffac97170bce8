"""Roadmap exchanges through ccxt.pro ``watch_order_book`` (unmodified ccxt)."""

from eip.exchanges.ccxt.urls import rewrite_urls
from eip.order_book.feeds.ccxt_pro.feed import CcxtProFeed

__all__ = ["CcxtProFeed", "rewrite_urls"]
