"""Bitfinex trading pairs ↔ platform symbols.

``tBTCUSD`` is ``BTC/USD``; pairs with a longer currency code use a colon
(``tTESTBTC:TESTUSD``). Bitfinex spells some currencies its own way; the common ones are
mapped by the package's one table of codes (``assets.ALIASES``: ``UST`` is Tether ``USDT``),
every other code is kept as sent. Perpetual swaps glue
``F0`` to both codes, ``tBTCF0:USTF0``: in ccxt's unified form ``BTC/USDT:USDT`` (settled in the
quote). A capture header names that one ``BTC-USDT-PERP`` (``header_book_symbol``).
"""

from __future__ import annotations

from eip.exchanges.bitfinex.assets import ALIASES
from eip.exchanges.contract.symbols import normalize_asset
from eip.exchanges.machinery.capture import HeaderSymbol

_CODES = {v: k for k, v in ALIASES.items()}


def platform_symbol(pair: str) -> str:
    """``tBTCUSD`` / ``BTCUSD`` / ``tTESTBTC:TESTUSD`` → ``BTC/USD``, ``TESTBTC/TESTUSD``."""
    code = pair[1:] if pair.startswith("t") else pair
    base, _, quote = code.partition(":")
    if base.endswith("F0") and quote.endswith("F0") and len(base) > 2 and len(quote) > 2:
        settle = normalize_asset(ALIASES.get(quote[:-2], quote[:-2]))
        return f"{normalize_asset(ALIASES.get(base[:-2], base[:-2]))}/{settle}:{settle}"
    if ":" in code:
        base, _, quote = code.partition(":")
    elif len(code) == 6:
        base, quote = code[:3], code[3:]
    else:
        raise ValueError(f"not a Bitfinex trading pair: {pair!r}")
    return (
        f"{normalize_asset(ALIASES.get(base, base))}/{normalize_asset(ALIASES.get(quote, quote))}"
    )


def venue_symbol(symbol: str) -> str:
    """``BTC/USD`` → ``tBTCUSD``; ``USDT`` is sent as ``UST``; ``BTC/USDT:USDT`` →
    ``tBTCF0:USTF0``."""
    pair, _, settle = symbol.partition(":")
    base, _, quote = pair.partition("/")
    if not quote or "/" in quote:
        raise ValueError(f"not a BASE/QUOTE symbol: {symbol!r}")
    base, quote = _CODES.get(base, base), _CODES.get(quote, quote)
    if settle:
        if _CODES.get(settle, settle) != quote or "-" in settle:
            raise ValueError(f"not a Bitfinex perpetual (settled in its quote): {symbol!r}")
        return f"t{base}F0:{quote}F0"
    if len(base) == 3 and len(quote) == 3:
        return f"t{base}{quote}"
    return f"t{base}:{quote}"


def header_book_symbol(symbol: HeaderSymbol) -> str:
    """The platform symbol a capture header's name means on Bitfinex: spot pairs, and
    ``BASE-QUOTE-PERP`` for the perpetual settled in its quote (``tBTCF0:USTF0``)."""
    if symbol.kind == "spot":
        return symbol.unified()
    if symbol.kind == "perpetual":
        return symbol.unified(settle=symbol.quote)
    raise ValueError(
        f"{symbol.name}: Bitfinex lists no {symbol.kind}s; its books are spot pairs "
        "and perpetuals (BASE-QUOTE-PERP)"
    )
