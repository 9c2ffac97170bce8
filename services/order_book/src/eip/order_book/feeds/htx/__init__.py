"""HTX (ex-Huobi) spot ``market.$symbol.depth.step0`` books."""

from eip.order_book.feeds.htx.feed import HtxFeed

__all__ = ["HtxFeed"]
