"""Symbols and asset codes: the platform's ``BASE/QUOTE`` and the map to a venue's spellings.

Each venue's own spellings are read in its package's ``symbols.py`` (Binance ``exchangeInfo``,
Kraken ``AssetPairs``, Coinbase product ids, ...) into a ``SymbolMap``. ``normalize_asset`` is
the one asset vocabulary every venue's codes go through, so it keeps the aliases any venue
uses (Kraken's ``XBT`` and its ``X``/``Z``-prefixed legacy codes among them).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

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


# -- balance assets ------------------------------------------------------------------------
#
# What a venue's balance call names an asset, mapped to the platform's asset, the wallet the
# amount sits in, and the scale of the venue's unit. One table for every roadmap venue (it
# moves into the venue packages with them). Kept apart from ``normalize_asset`` because a
# balance code says more than an instrument's asset does: Kraken's ``DOT.S`` is DOT, but staked,
# and must never be added to spot DOT; BitMEX's ``XBt`` is BTC counted in satoshis.


@dataclass(frozen=True, slots=True)
class BalanceAsset:
    asset: str
    wallet: str = "spot"
    scale: Decimal = Decimal(1)  # the venue's amount times this is the amount in ``asset``


# Venue codes that are another asset's legacy or venue-specific name (beyond ASSET_ALIASES and
# Kraken's X/Z prefixes, which normalize_asset handles for every venue).
VENUE_ASSET_ALIASES: Mapping[str, Mapping[str, str]] = {
    # Bitfinex's three-letter codes (its API calls Tether UST and USD Coin UDC).
    "bitfinex": {
        "UST": "USDT",
        "UDC": "USDC",
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
    },
    "binance": {"YOYO": "YOYOW"},
    "kucoin": {"WAX": "WAXP"},
    # Kraken's staked ether (ETH2, and ETH2.S) is ether, in the staked wallet (below).
    "kraken": {"ETH2": "ETH"},
}

# Kraken balance suffixes (docs: Get Account Balance, "Symbol Extensions"): read-only balances
# of Kraken's earn products, shown as wallets apart from spot.
KRAKEN_WALLETS: Mapping[str, str] = {
    "S": "staked",  # legacy staking
    "M": "rewards",  # opt-in rewards
    "F": "earn",  # earning automatically in Kraken Rewards
    "B": "yield",  # new yield-bearing products
    "HOLD": "held",  # amounts on hold
}
# Legacy staking with a lock-up in days between the code and the suffix: ATOM21.S, GRT28.S.
_KRAKEN_LOCKUP = re.compile(r"^([A-Z]+?)(\d{2})$")

# BitMEX counts margin in each currency's smallest unit, spelled in mixed case.
BITMEX_UNITS: Mapping[str, BalanceAsset] = {
    "XBt": BalanceAsset("BTC", scale=Decimal("0.00000001")),  # satoshi
    "USDt": BalanceAsset("USDT", scale=Decimal("0.000001")),  # micro-tether
    "Gwei": BalanceAsset("ETH", scale=Decimal("0.000000001")),
}

# Binance lists Simple Earn flexible positions in the spot account as LD<asset>.
_BINANCE_EARN_PREFIX = "LD"
_BINANCE_LD_ASSETS = frozenset({"LDO"})  # real assets that start with LD


def balance_asset(exchange: str, code: str) -> BalanceAsset:
    """A venue's balance code as (asset, wallet, scale): ``kraken`` ``XXBT.M`` → BTC in
    ``rewards``; ``bitmex`` ``XBt`` → BTC x 1e-8; ``binance`` ``LDUSDT`` → USDT in ``earn``;
    ``bitfinex`` ``UST`` → USDT; anything else as ``normalize_asset`` says, in ``spot``."""
    venue = exchange.strip().lower()
    raw = code.strip()
    if not raw:
        raise ValueError("empty asset code")
    if venue == "bitmex" and raw in BITMEX_UNITS:
        return BITMEX_UNITS[raw]
    upper = raw.upper()
    wallet = "spot"
    if venue == "kraken" and "." in upper:
        base, _, suffix = upper.partition(".")
        if suffix in KRAKEN_WALLETS and base:
            wallet = KRAKEN_WALLETS[suffix]
            lockup = _KRAKEN_LOCKUP.match(base)
            if wallet == "staked" and lockup and base not in VENUE_ASSET_ALIASES["kraken"]:
                base = lockup[1]
            upper = base
    elif (
        venue == "binance"
        and upper.startswith(_BINANCE_EARN_PREFIX)
        and len(upper) > len(_BINANCE_EARN_PREFIX) + 1
        and upper not in _BINANCE_LD_ASSETS
    ):
        wallet = "earn"
        upper = upper[len(_BINANCE_EARN_PREFIX) :]
    aliased = VENUE_ASSET_ALIASES.get(venue, {}).get(upper, upper)
    if venue == "kraken" and upper == "ETH2":
        wallet = "staked"
    return BalanceAsset(normalize_asset(aliased), wallet)
