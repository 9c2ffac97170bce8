"""Symbols and asset codes: exchange spellings ↔ the platform's ``BASE/QUOTE``."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

# Legacy or exchange-specific codes for one asset (Kraken's XBT and XDG are ISO-4217-style).
ASSET_ALIASES: Mapping[str, str] = {"XBT": "BTC", "XDG": "DOGE"}

# Kraken's legacy asset names prefix crypto with X and fiat with Z (XXBT, XETH, ZUSD, ZEUR).
# Only four-letter codes carry the prefix; newer assets (DOT, USDT, ...) never do.
_KRAKEN_PREFIXED = frozenset(
    {"XXBT", "XXDG", "XETH", "XLTC", "XXRP", "XXLM", "XXMR", "XETC", "XZEC", "XREP", "XMLN"}
    | {"ZUSD", "ZEUR", "ZGBP", "ZJPY", "ZCAD", "ZAUD", "ZCHF"}
)


def normalize_asset(code: str) -> str:
    """``XBT`` → ``BTC``, ``XXBT`` → ``BTC``, ``ZUSD`` → ``USD``, ``usdt`` → ``USDT``."""
    upper = code.strip().upper()
    if not upper:
        raise ValueError("empty asset code")
    if upper in _KRAKEN_PREFIXED:
        upper = upper[1:]
    return ASSET_ALIASES.get(upper, upper)


@dataclass(frozen=True)
class SymbolMap:
    """Both directions between an exchange's instrument ids and normalized symbols."""

    to_exchange: dict[str, str] = field(default_factory=dict)  # "BTC/USDT" -> "BTCUSDT"
    to_symbol: dict[str, str] = field(default_factory=dict)  # "BTCUSDT" -> "BTC/USDT"

    def add(self, exchange_id: str, base: str, quote: str) -> None:
        symbol = f"{normalize_asset(base)}/{normalize_asset(quote)}"
        self.to_exchange[symbol] = exchange_id
        self.to_symbol[exchange_id] = symbol

    def exchange_id(self, symbol: str) -> str:
        try:
            return self.to_exchange[symbol]
        except KeyError:
            raise KeyError(f"unknown symbol {symbol!r}") from None

    def symbol(self, exchange_id: str) -> str:
        try:
            return self.to_symbol[exchange_id]
        except KeyError:
            raise KeyError(f"unknown exchange instrument {exchange_id!r}") from None


def binance_symbol_map(exchange_info: Mapping[str, Any]) -> SymbolMap:
    """From ``GET /api/v3/exchangeInfo``: ``BTCUSDT`` ↔ ``BTC/USDT`` by baseAsset/quoteAsset."""
    result = SymbolMap()
    for entry in exchange_info.get("symbols", []):
        result.add(entry["symbol"], entry["baseAsset"], entry["quoteAsset"])
    return result


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


def symbols_of(pairs: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{normalize_asset(b)}/{normalize_asset(q)}" for b, q in pairs]
