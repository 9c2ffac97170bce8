"""Native Binance spot market data: REST (httpx) and market streams (websockets)."""

from eip.exchanges.binance.adapter import BinanceMarketDataAdapter

__all__ = ["BinanceMarketDataAdapter"]
