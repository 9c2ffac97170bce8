"""Native Binance spot: market data (``adapter.py``: REST on httpx, market streams on websockets)
and trading (``trading.py``: signed REST and the WebSocket API user data stream)."""

from eip.exchanges.binance.adapter import BinanceMarketDataAdapter

__all__ = ["BinanceMarketDataAdapter"]
