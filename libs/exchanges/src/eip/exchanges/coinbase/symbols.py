"""Coinbase product ids ↔ platform symbols: the normalized symbol with a dash."""

from __future__ import annotations

from eip.exchanges.contract.symbols import normalize_asset


def coinbase_product_id(symbol: str) -> str:
    """``BTC/USD`` → ``BTC-USD`` (Coinbase product ids are the normalized symbol with a dash)."""
    base, sep, quote = symbol.partition("/")
    if not sep or not base or not quote:
        raise ValueError(f"not a BASE/QUOTE symbol: {symbol!r}")
    return f"{base}-{quote}"


def coinbase_symbol(product_id: str) -> str:
    base, sep, quote = product_id.partition("-")
    if not sep or not base or not quote:
        raise ValueError(f"not a Coinbase product id: {product_id!r}")
    return f"{normalize_asset(base)}/{normalize_asset(quote)}"
