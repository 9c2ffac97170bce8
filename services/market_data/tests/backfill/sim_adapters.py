"""The platform's adapters pointed at the exchange simulator, loadable by a backfill worker
process: ``--adapters sim_adapters:native`` (Binance on httpx, pages by id) or
``sim_adapters:ccxt`` (the generic ccxt adapter, pages by time). The simulator's URL comes from
``EIP_TEST_SIMULATOR_URL``."""

from __future__ import annotations

import os

from eip.exchanges.contract.market_data import MarketDataAdapter
from eip.exchanges.registry import create_market_data_adapter


async def native(exchange: str) -> MarketDataAdapter:
    return create_market_data_adapter(exchange, base_url=os.environ["EIP_TEST_SIMULATOR_URL"])


async def ccxt(exchange: str) -> MarketDataAdapter:
    return create_market_data_adapter(
        exchange, base_url=os.environ["EIP_TEST_SIMULATOR_URL"], native=False
    )
