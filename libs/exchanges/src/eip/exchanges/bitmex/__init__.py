"""BitMEX: native market data (REST and the realtime WebSocket; ccxt 4.5.90 ships no
``bitmex`` class), the ``orderBookL2`` book, the replay of BitMEX captures, key validation and
the ``bitmex-rest`` signing scheme (``credentials.py``), and native trading (``trading.py``,
``trading_wire.py``, ``private_stream.py``). Registered in ``eip.exchanges.registry``."""
