"""Native BitMEX market data: REST (httpx) and the realtime WebSocket (websockets).

ccxt 4.5.90 ships no ``bitmex`` class, so BitMEX gets its own adapter on its own protocols.
"""

from eip.exchanges.bitmex.adapter import BitmexMarketDataAdapter

__all__ = ["BitmexMarketDataAdapter"]
