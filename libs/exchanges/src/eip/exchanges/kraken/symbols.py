"""Kraken pair names ↔ platform symbols, from the venue's own ``AssetPairs``."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from eip.exchanges.contract.symbols import SymbolMap


def kraken_symbol_map(asset_pairs: Mapping[str, Any]) -> SymbolMap:
    """From ``GET /0/public/AssetPairs`` (``result``): every spelling of a pair → ``BTC/USD``.

    ``to_exchange`` gives the v1 WebSocket name (``wsname``, e.g. ``XBT/USD``); ``to_symbol``
    accepts the REST key (``XXBTZUSD``), the altname (``XBTUSD``) and the wsname.
    """
    pairs = asset_pairs.get("result", asset_pairs)
    result = SymbolMap()
    for key, entry in pairs.items():
        wsname = entry.get("wsname")
        if not wsname or "/" not in wsname:
            continue  # dark-pool ".d" pairs have no WebSocket name
        base, quote = wsname.split("/", 1)
        result.add(wsname, base, quote)
        symbol = result.to_symbol[wsname]
        result.to_symbol[key] = symbol
        if entry.get("altname"):
            result.to_symbol[entry["altname"]] = symbol
    return result
