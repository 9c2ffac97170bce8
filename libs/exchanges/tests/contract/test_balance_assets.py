"""The tables of balance asset codes (one per venue package, through the registry): every
roadmap venue's spellings to the platform's asset, the wallet (never mixed into spot) and the
unit's scale.

The codes are those the venues' balance calls return and document: Kraken ``Balance`` /
``BalanceEx`` (X/Z prefixes, the ``.S``/``.M``/``.F``/``.B``/``.HOLD`` extensions, lock-up days
before ``.S``), BitMEX ``user/margin`` currencies in their smallest units, Binance's Simple Earn
``LD`` positions in the spot account, Bitfinex's three-letter codes, HTX's lower case.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from eip.exchanges.contract.symbols import BalanceAsset
from eip.exchanges.registry import balance_asset


@pytest.mark.parametrize(
    ("exchange", "code", "asset", "wallet"),
    [
        # Kraken
        ("kraken", "XXBT", "BTC", "spot"),
        ("kraken", "XBT.M", "BTC", "rewards"),
        ("kraken", "XXBT.M", "BTC", "rewards"),
        ("kraken", "ZUSD", "USD", "spot"),
        ("kraken", "ZUSD.M", "USD", "rewards"),
        ("kraken", "XXDG", "DOGE", "spot"),
        ("kraken", "XDG", "DOGE", "spot"),
        ("kraken", "DOT.S", "DOT", "staked"),
        ("kraken", "ATOM21.S", "ATOM", "staked"),
        ("kraken", "GRT28.S", "GRT", "staked"),
        ("kraken", "ETH2.S", "ETH", "staked"),
        ("kraken", "ETH2", "ETH", "eth2"),  # apart from ETH2.S: one key each
        ("kraken", "USDT.F", "USDT", "earn"),
        ("kraken", "SOL.F", "SOL", "earn"),
        ("kraken", "XXBT.B", "BTC", "yield"),
        ("kraken", "EUR.HOLD", "EUR", "held"),
        ("kraken", "XETH", "ETH", "spot"),
        ("kraken", "USDC", "USDC", "spot"),
        # Binance
        ("binance", "BTC", "BTC", "spot"),
        ("binance", "LDBTC", "BTC", "earn"),
        ("binance", "LDUSDT", "USDT", "earn"),
        ("binance", "LDO", "LDO", "spot"),
        ("binance", "YOYO", "YOYOW", "spot"),
        # Coinbase, OKX, Bybit, Gate.io: codes as they are
        ("coinbase", "USDC", "USDC", "spot"),
        ("okx", "USDT", "USDT", "spot"),
        ("bybit", "BTC", "BTC", "spot"),
        ("gateio", "GT", "GT", "spot"),
        # HTX lower case
        ("htx", "usdt", "USDT", "spot"),
        ("htx", "btc", "BTC", "spot"),
        # KuCoin, Bitfinex
        ("kucoin", "WAX", "WAXP", "spot"),
        ("bitfinex", "UST", "USDT", "spot"),
        ("bitfinex", "UDC", "USDC", "spot"),
        ("bitfinex", "DSH", "DASH", "spot"),
        ("bitfinex", "IOT", "IOTA", "spot"),
    ],
)
def test_a_venue_balance_code_is_the_platform_asset_in_its_wallet(
    exchange: str, code: str, asset: str, wallet: str
) -> None:
    assert balance_asset(exchange, code) == BalanceAsset(asset, wallet)


def test_an_alias_of_one_venue_is_not_applied_to_another() -> None:
    assert balance_asset("binance", "UST").asset == "UST"  # TerraUSD there, not Tether
    assert balance_asset("kucoin", "DOT.S").asset == "DOT.S"
    assert balance_asset("coinbase", "LDBTC").asset == "LDBTC"


@pytest.mark.parametrize(
    ("code", "asset", "amount", "expected"),
    [
        ("XBt", "BTC", "150000000", Decimal("1.5")),
        ("USDt", "USDT", "2500000", Decimal("2.5")),
        ("Gwei", "ETH", "1000000000", Decimal(1)),
    ],
)
def test_bitmex_amounts_in_the_smallest_unit_are_scaled(
    code: str, asset: str, amount: str, expected: Decimal
) -> None:
    found = balance_asset("bitmex", code)
    assert found.asset == asset
    assert Decimal(amount) * found.scale == expected


def test_an_empty_code_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        balance_asset("kraken", "  ")
