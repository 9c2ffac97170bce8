"""Coinbase: product ids, the Advanced Trade ``level2`` book (and the Exchange, ex-Pro, dialect
of older captures), and which ccxt class replays a capture. Market data is served by the
generic ccxt adapter. Registered in ``eip.exchanges.registry``."""
