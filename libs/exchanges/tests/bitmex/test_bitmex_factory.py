"""``create_market_data_adapter("bitmex")`` is the native adapter (ccxt 4.5.90 has none)."""

from __future__ import annotations

import ccxt

from eip.exchanges.bitmex.market_data import BitmexMarketDataAdapter
from eip.exchanges.registry import create_market_data_adapter


async def test_factory_returns_the_native_bitmex_adapter() -> None:
    assert "bitmex" not in ccxt.exchanges  # why the adapter is native
    adapter = create_market_data_adapter("BitMEX")
    assert isinstance(adapter, BitmexMarketDataAdapter)
    assert adapter.exchange == "bitmex"
    assert adapter.rest.base_url == "https://www.bitmex.com/api/v1"
    assert adapter.stream.ws_url == "wss://ws.bitmex.com/realtime"
    await adapter.close()


async def test_factory_moves_bitmex_to_another_host() -> None:
    adapter = create_market_data_adapter("bitmex", base_url="http://127.0.0.1:9/api/v1")
    assert isinstance(adapter, BitmexMarketDataAdapter)
    assert adapter.rest.base_url == "http://127.0.0.1:9/api/v1"
    assert adapter.stream.ws_url == "ws://127.0.0.1:9/realtime"
    other = create_market_data_adapter("bitmex", ws_base_url="ws://127.0.0.1:9/realtime")
    assert isinstance(other, BitmexMarketDataAdapter)
    assert other.stream.ws_url == "ws://127.0.0.1:9/realtime"
    await adapter.close()
    await other.close()
