"""Exchange vocabulary shared by every adapter: one normalized symbol form, ``BASE/QUOTE``.

Normalization is driven by the exchange's own metadata (Binance ``exchangeInfo``, Kraken
``AssetPairs``), never by guessing where a concatenated symbol splits.
"""

from eip.exchanges.symbols import (
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
