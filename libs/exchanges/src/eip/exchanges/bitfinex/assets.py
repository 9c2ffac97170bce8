"""Bitfinex's currency codes, found through ``registry.asset_codes`` (balances) and used by
``symbols.py`` (pairs): one table for both.

Bitfinex's API keeps three-letter codes for currencies whose usual code is longer or
different: Tether is ``UST`` (elsewhere ``UST`` was TerraUSD, so this never applies to another
venue), USD Coin ``UDC``. Codes arrive in upper case in ``/v2/auth/r/wallets``.
"""

from __future__ import annotations

from eip.exchanges.contract.symbols import AssetCodes

ALIASES = {
    "UST": "USDT",
    "UDC": "USDC",
    "TSD": "TUSD",
    "EUT": "EURT",
    "DSH": "DASH",
    "IOT": "IOTA",
    "QTM": "QTUM",
    "MNA": "MANA",
    "ALG": "ALGO",
    "ATO": "ATOM",
    "DAT": "DATA",
    "STJ": "STORJ",
    "YYW": "YOYOW",
}

ASSET_CODES = AssetCodes(aliases=ALIASES)
