"""Binance instrument ids ↔ platform symbols, from the venue's own ``exchangeInfo``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eip.exchanges.contract.symbols import SymbolMap


def binance_symbol_map(exchange_info: Mapping[str, Any]) -> SymbolMap:
    """From ``GET /api/v3/exchangeInfo``: ``BTCUSDT`` ↔ ``BTC/USDT`` by baseAsset/quoteAsset."""
    result = SymbolMap()
    for entry in exchange_info.get("symbols", []):
        result.add(entry["symbol"], entry["baseAsset"], entry["quoteAsset"])
    return result
