"""BitMEX: native market data (REST and the realtime WebSocket; ccxt 4.5.90 ships no
``bitmex`` class), the ``orderBookL2`` book, and the replay of BitMEX captures. Registered in
``eip.exchanges.registry``."""
