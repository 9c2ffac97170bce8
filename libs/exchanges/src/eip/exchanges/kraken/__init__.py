"""Kraken: symbols from ``AssetPairs``, the ``book`` channel with its CRC32 checksum (WebSocket
v2 live, v1 for old captures), and the replay of WebSocket v1 trade and ticker frames (ccxt
reads v2 only). Market data is served by the generic ccxt adapter. Registered in
``eip.exchanges.registry``."""
