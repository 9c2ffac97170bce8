"""Kraken: symbols from ``AssetPairs``, the ``book`` channel with its CRC32 checksum (WebSocket
v2 live, v1 for old captures), and the replay of WebSocket v1 trade and ticker frames (ccxt
reads v2 only). Market data is served by the generic ccxt adapter. Trading: the private REST
API and the authenticated WebSocket v2 (``trading.py``, ``trading_wire.py``, ``rest.py``,
``private_stream.py``), signing through the auth service; key validation and the
``kraken-rest`` signing scheme in ``credentials.py``. Registered in ``eip.exchanges.registry``."""
