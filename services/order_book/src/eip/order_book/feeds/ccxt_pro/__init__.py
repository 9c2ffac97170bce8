"""Roadmap exchanges through ccxt.pro ``watch_order_book`` (unmodified ccxt)."""

from eip.order_book.feeds.ccxt_pro.feed import CcxtProFeed, rewrite_urls

__all__ = ["CcxtProFeed", "rewrite_urls"]
