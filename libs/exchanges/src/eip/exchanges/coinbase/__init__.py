"""Coinbase: product ids, the Advanced Trade ``level2`` book (and the Exchange, ex-Pro, dialect
of older captures), which ccxt class replays a capture, CDP key validation and signing (ES256
JWTs, ``credentials.py``) and the Advanced Trade trading adapter (REST ``/api/v3/brokerage`` and
the ``user`` channel, ``trading.py``). Market data is served by the generic ccxt adapter.
Registered in ``eip.exchanges.registry``."""
