"""OKX instruments ↔ platform symbols, in ccxt's unified forms.

``SPOT`` ``BTC-USDT`` is ``BTC/USDT``; ``SWAP`` ``BTC-USD-SWAP`` (underlying ``BTC-USD``,
settled in BTC) is ``BTC/USD:BTC``; ``FUTURES`` add the expiry, ``BTC/USD:BTC-220325``;
``OPTION`` add expiry, strike and C/P, ``BTC/USD:BTC-220325-40000-C``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from eip.exchanges.contract.symbols import normalize_asset
from eip.exchanges.machinery.capture import HeaderSymbol

INST_TYPES = ("SPOT", "SWAP", "FUTURES")
# OKX settles swaps and futures quoted in these in the quote (linear), others in the base
STABLE_QUOTES = ("USDT", "USDC")
# OKX lists options per underlying only; these two always, plus the underlyings asked for.
OPTION_UNDERLYINGS = ("BTC-USD", "ETH-USD")


def instrument_queries(symbols: Iterable[str]) -> list[str]:
    """The ``/api/v5/public/instruments`` queries that cover ``symbols``."""
    underlyings = set(OPTION_UNDERLYINGS)
    for symbol in symbols:
        pair, _, rest = symbol.partition(":")
        if rest.count("-") >= 3:  # SETTLE-YYMMDD-STRIKE-C|P: an option
            underlyings.add(pair.replace("/", "-"))
    return [f"instType={kind}" for kind in INST_TYPES] + [
        f"instType=OPTION&uly={u}" for u in sorted(underlyings)
    ]


def instrument_symbol(row: Mapping[str, Any]) -> str | None:
    kind = row.get("instType")
    if kind == "SPOT":
        return f"{normalize_asset(row['baseCcy'])}/{normalize_asset(row['quoteCcy'])}"
    underlying = str(row.get("uly") or "")
    base, _, quote = underlying.partition("-")
    settle = str(row.get("settleCcy") or "")
    if not (base and quote and settle):
        return None
    symbol = f"{normalize_asset(base)}/{normalize_asset(quote)}:{normalize_asset(settle)}"
    if kind == "SWAP":
        return symbol
    expiry = datetime.fromtimestamp(int(row["expTime"]) / 1000, UTC).strftime("%y%m%d")
    if kind == "FUTURES":
        return f"{symbol}-{expiry}"
    if kind == "OPTION":
        return f"{symbol}-{expiry}-{row['stk']}-{row['optType']}"
    return None


def header_book_symbol(symbol: HeaderSymbol) -> str:
    """The platform symbol a capture header's name means on OKX: ``BTC-USDT-PERP`` is the swap
    ``BTC-USDT-SWAP`` (settled in USDT, ``BTC/USDT:USDT``), ``BTC-USD-PERP`` the inverse
    ``BTC-USD-SWAP`` (``BTC/USD:BTC``); futures and options add their expiry the same way."""
    if symbol.kind == "spot":
        return symbol.unified()
    linear = symbol.quote in STABLE_QUOTES and symbol.kind != "option"
    return symbol.unified(settle=symbol.quote if linear else symbol.base)
