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
# amount sits in, and the scale of the venue's unit. Kept apart from ``normalize_asset`` because
# a balance code says more than an instrument's asset does: Kraken's ``DOT.S`` is DOT, but
# staked, and must never be added to spot DOT; BitMEX's ``XBt`` is BTC counted in satoshis.
# This module holds the *rules*; each venue's *codes* are data in its own package
# (``eip.exchanges.<venue>.assets.ASSET_CODES``), found by venue id through
# ``registry.asset_codes``. An alias of one venue is never applied to another: Binance's ``UST``
# was TerraUSD, Bitfinex's is Tether.


@dataclass(frozen=True, slots=True)
class BalanceAsset:
    asset: str
    wallet: str = "spot"
    scale: Decimal = Decimal(1)  # the venue's amount times this is the amount in ``asset``


@dataclass(frozen=True)
class AssetCodes:
    """One venue's balance codes. Every field is optional; an empty table is ``normalize_asset``
    in ``spot``.

    - ``aliases``: the venue's name of an asset → the platform's (after upper-casing);
    - ``units``: exact-case codes counted in a smaller unit (BitMEX ``XBt``), checked first;
    - ``wallet_suffixes``: ``CODE.SUFFIX`` → that wallet (Kraken ``.S`` staked, ``.F`` earn);
      with ``lockup_before_suffix`` a two-digit lock-up in days before a staked suffix is
      dropped (``ATOM21.S``);
    - ``earn_prefix``: ``<prefix><ASSET>`` is ASSET in ``earn`` (Binance ``LDBTC``), except the
      real assets in ``prefix_assets`` (``LDO``);
    - ``wallets``: a code that is always in a wallet apart (Kraken ``ETH2``: staked ether).
    """

    aliases: Mapping[str, str] = field(default_factory=dict)
    units: Mapping[str, BalanceAsset] = field(default_factory=dict)
    wallet_suffixes: Mapping[str, str] = field(default_factory=dict)
    lockup_before_suffix: bool = False
    earn_prefix: str | None = None
    prefix_assets: frozenset[str] = frozenset()
    wallets: Mapping[str, str] = field(default_factory=dict)

    def balance_asset(self, code: str) -> BalanceAsset:
        """The venue's balance code as (asset, wallet, scale)."""
        raw = code.strip()
        if not raw:
            raise ValueError("empty asset code")
        if raw in self.units:
            return self.units[raw]
        upper = raw.upper()
        wallet = "spot"
        base, dot, suffix = upper.partition(".")
        if dot and base and suffix in self.wallet_suffixes:
            wallet = self.wallet_suffixes[suffix]
            lockup = _LOCKUP.match(base)
            if self.lockup_before_suffix and wallet == "staked" and lockup:
                base = base if base in self.aliases else lockup[1]
            upper = base
        elif (
            self.earn_prefix
            and upper.startswith(self.earn_prefix)
            and len(upper) > len(self.earn_prefix) + 1
            and upper not in self.prefix_assets
        ):
            wallet = "earn"
            upper = upper[len(self.earn_prefix) :]
        if upper in self.wallets and wallet == "spot":
            wallet = self.wallets[upper]
        return BalanceAsset(normalize_asset(self.aliases.get(upper, upper)), wallet)


# Legacy staking with a lock-up in days between the code and the suffix: ATOM21.S, GRT28.S.
_LOCKUP = re.compile(r"^([A-Z]+?)(\d{2})$")

# A venue that lists no codes of its own: normalize_asset, in spot.
PLAIN_ASSET_CODES = AssetCodes()
