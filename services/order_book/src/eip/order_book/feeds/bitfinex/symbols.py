"""Bitfinex trading pairs ↔ platform symbols.

``tBTCUSD`` is ``BTC/USD``; pairs with a longer currency code use a colon
(``tTESTBTC:TESTUSD``). Bitfinex spells some currencies its own way; the common ones are
mapped (``UST`` is Tether ``USDT``), every other code is kept as sent.
"""

from __future__ import annotations

from eip.exchanges import normalize_asset

ALIASES = {
    "UST": "USDT",
    "UDC": "USDC",
    "TSD": "TUSD",
    "IOT": "IOTA",
    "DSH": "DASH",
    "QTM": "QTUM",
    "MNA": "MANA",
    "DAT": "DATA",
    "ALG": "ALGO",
}
_CODES = {v: k for k, v in ALIASES.items()}


def platform_symbol(pair: str) -> str:
    """``tBTCUSD`` / ``BTCUSD`` / ``tTESTBTC:TESTUSD`` → ``BTC/USD``, ``TESTBTC/TESTUSD``."""
    code = pair[1:] if pair.startswith("t") else pair
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
    """``BTC/USD`` → ``tBTCUSD``; ``USDT`` is sent as ``UST``."""
    base, _, quote = symbol.partition("/")
    if not quote:
        raise ValueError(f"not a BASE/QUOTE symbol: {symbol!r}")
    base, quote = _CODES.get(base, base), _CODES.get(quote, quote)
    if len(base) == 3 and len(quote) == 3:
        return f"t{base}{quote}"
    return f"t{base}:{quote}"
