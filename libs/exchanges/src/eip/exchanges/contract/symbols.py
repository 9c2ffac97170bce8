"""Symbols and asset codes: the platform's ``BASE/QUOTE`` and the map to a venue's spellings.

Each venue's own spellings are read in its package's ``symbols.py`` (Binance ``exchangeInfo``,
Kraken ``AssetPairs``, Coinbase product ids, ...) into a ``SymbolMap``. ``normalize_asset`` is
the one asset vocabulary every venue's codes go through, so it keeps the aliases any venue
uses (Kraken's ``XBT`` and its ``X``/``Z``-prefixed legacy codes among them).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

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


def symbols_of(pairs: Iterable[tuple[str, str]]) -> list[str]:
    return [f"{normalize_asset(b)}/{normalize_asset(q)}" for b, q in pairs]
