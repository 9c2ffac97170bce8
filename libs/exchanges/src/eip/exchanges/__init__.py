"""Exchange access shared by every service: one normalized symbol form, ``BASE/QUOTE``, and
market-data adapters (generic ccxt, native Binance) behind ``MarketDataAdapter``.

Normalization is driven by the exchange's own metadata (Binance ``exchangeInfo``, Kraken
``AssetPairs``), never by guessing where a concatenated symbol splits. Adapters are imported
from their modules (``eip.exchanges.factory.create_market_data_adapter``) so that using the
symbol helpers does not import ccxt.
"""

from eip.exchanges.contract.symbols import (
    SymbolMap,
    binance_symbol_map,
    coinbase_product_id,
    coinbase_symbol,
    kraken_symbol_map,
    normalize_asset,
)

__all__ = [
    "SymbolMap",
    "binance_symbol_map",
    "coinbase_product_id",
    "coinbase_symbol",
    "kraken_symbol_map",
    "normalize_asset",
]
