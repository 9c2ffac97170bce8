"""Coinbase ``level2``: Advanced Trade (``sequence_num`` gap detection), and the Coinbase
Exchange (ex-Pro) dialect that older captures hold."""

from eip.order_book.feeds.coinbase.exchange import CoinbaseExchangeFeed
from eip.order_book.feeds.coinbase.feed import CoinbaseFeed

__all__ = ["CoinbaseExchangeFeed", "CoinbaseFeed"]
