"""BitMEX instruments ↔ platform symbols.

Spot pairs (``typ`` ``IFXXXP``, e.g. ``XBT_USDT``) are ``BTC/USDT``. Perpetual swaps (``FFWCSX``)
keep ccxt's unified derivative form ``BASE/QUOTE:SETTLE``, as ``normalize_symbol`` does for
every ccxt venue: inverse ``XBTUSD`` (settled in XBt) is ``BTC/USD:BTC``, linear ``XBTUSDT`` is
``BTC/USDT:USDT``. Dated futures (``FFCCSX``) add the expiry, ``BTC/USD:BTC-241227``. A perpetual
is never ``BTC/USD``: that would merge a derivative's price into the spot cross-exchange view.
Other types (indices ``.BXBT``, options, ...) are not listed.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Any

from eip.exchanges.contract.symbols import SymbolMap, normalize_asset

SPOT = "IFXXXP"
PERPETUAL = "FFWCSX"
FUTURE = "FFCCSX"


def instrument_symbol(row: Mapping[str, Any]) -> str | None:
    """The platform symbol of one ``/instrument`` row; ``None`` for types not served."""
    typ = row.get("typ")
    base = normalize_asset(str(row["underlying"]))
    quote = normalize_asset(str(row["quoteCurrency"]))
    if typ == SPOT:
        return f"{base}/{quote}"
    settle_raw = row.get("settlCurrency")
    if not settle_raw:
        return None
    # BitMEX names settlement units in their smallest denomination: XBt (satoshi), USDt
    settle = normalize_asset(str(settle_raw))
    if typ == PERPETUAL:
        return f"{base}/{quote}:{settle}"
    if typ == FUTURE and row.get("expiry"):
        expiry = datetime.fromisoformat(str(row["expiry"]).replace("Z", "+00:00"))
        return f"{base}/{quote}:{settle}-{expiry:%y%m%d}"
    return None


def symbol_map(instruments: Iterable[Mapping[str, Any]]) -> SymbolMap:
    result = SymbolMap()
    for row in instruments:
        symbol = instrument_symbol(row)
        if symbol is None:
            continue
        result.to_exchange[symbol] = str(row["symbol"])
        result.to_symbol[str(row["symbol"])] = symbol
    return result
