"""Every roadmap venue's balance response, through the venue's own balance parser, gives the
platform's assets: the one table of codes per venue package (``registry.asset_codes``) checked
on bodies in the venues' real layouts (``tests/payloads/balances/``, sources in its README).

Native venues parse with their trading adapters' own parsers (Binance, Kraken, Coinbase
``balances``, BitMEX ``margin_balance``); the ccxt venues with an unmodified ccxt client
(``new_client``, as the generic adapter makes it) whose one HTTP call answers the stored body,
so ccxt's ``fetch_balance`` parses it exactly as live, then the generic trading adapter's
``parse_balances`` (``registry.balance_asset`` on ccxt's codes; zero balances left out).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from eip.exchanges import registry
from eip.exchanges.binance import trading_wire as binance_wire
from eip.exchanges.bitmex import trading_wire as bitmex_wire
from eip.exchanges.ccxt.market_data import new_client
from eip.exchanges.ccxt.trading_parse import parse_balances
from eip.exchanges.coinbase import trading_wire as coinbase_wire
from eip.exchanges.contract.trading import AssetBalance
from eip.exchanges.kraken import trading_wire as kraken_wire

BALANCES = Path(__file__).parent.parent / "payloads" / "balances"
Held = dict[tuple[str, str], tuple[Decimal, Decimal]]  # (asset, wallet) -> (free, locked)


def body(name: str) -> Any:
    return json.loads((BALANCES / name).read_text())


def held(rows: list[AssetBalance]) -> Held:
    out: Held = {}
    for row in rows:
        key = (row.asset, row.wallet)
        assert key not in out, f"{key} twice: a venue code was mapped onto another"
        out[key] = (row.free, row.locked)
    return out


def test_binance_simple_earn_positions_are_apart_and_ldo_is_lido() -> None:
    found = held(binance_wire.balances(body("binance.json")["balances"]))
    assert found == {
        ("BTC", "spot"): (Decimal("4723846.89208129"), Decimal(0)),
        ("LTC", "spot"): (Decimal("4763368.68006011"), Decimal(0)),
        ("BTC", "earn"): (Decimal("0.00012345"), Decimal(0)),
        ("USDT", "earn"): (Decimal("250.5"), Decimal(0)),
        ("LDO", "spot"): (Decimal(12), Decimal("1.5")),
        ("YOYOW", "spot"): (Decimal(100), Decimal(0)),
    }


def test_kraken_legacy_names_are_the_assets_and_earn_products_are_wallets_apart() -> None:
    found = held(kraken_wire.balances(body("kraken.json")["result"]))
    assert found == {
        ("USD", "spot"): (Decimal("17185.45"), Decimal("8249.76")),
        ("BTC", "spot"): (Decimal("0.4012"), Decimal("0.8423")),
        ("ETH", "spot"): (Decimal("3.1"), Decimal(0)),
        ("DOGE", "spot"): (Decimal(1500), Decimal(0)),
        ("EUR", "spot"): (Decimal("564.8946"), Decimal(0)),  # credit line less used
        ("USDT", "spot"): (Decimal(500), Decimal(0)),
        ("BTC", "rewards"): (Decimal("0.01"), Decimal(0)),
        ("DOT", "staked"): (Decimal("2.5"), Decimal(0)),
        ("ATOM", "staked"): (Decimal(7), Decimal(0)),
        ("ETH", "staked"): (Decimal("0.75"), Decimal(0)),
        ("ETH", "eth2"): (Decimal("0.001"), Decimal(0)),  # not one key with ETH2.S
        ("USDT", "earn"): (Decimal(120), Decimal(0)),
        ("SOL", "yield"): (Decimal(4), Decimal(0)),
    }


def test_coinbase_accounts_are_currencies_as_named() -> None:
    found = held(coinbase_wire.balances(body("coinbase.json")["accounts"]))
    assert found == {
        ("BTC", "spot"): (Decimal("1.23"), Decimal("0.1")),
        ("USDC", "spot"): (Decimal("1000.50"), Decimal(0)),
    }


def test_bitmex_margin_in_the_smallest_unit_is_scaled_to_the_asset() -> None:
    rows = [bitmex_wire.margin_balance(row) for row in body("bitmex.json")]
    assert None not in rows
    assert held([r for r in rows if r is not None]) == {
        ("BTC", "spot"): (Decimal("1.2"), Decimal("0.3")),
        ("USDT", "spot"): (Decimal(2), Decimal("0.5")),
    }


# -- ccxt venues ----------------------------------------------------------------------------

MARKETS: Mapping[str, dict[str, Any]] = {
    "kucoin": {"id": "BTC-USDT", "base": "BTC", "quote": "USDT"},
    "bitfinex": {"id": "tBTCUSD", "base": "BTC", "quote": "USD"},
    "htx": {"id": "btcusdt", "base": "BTC", "quote": "USDT"},
    "bybit": {"id": "BTCUSDT", "base": "BTC", "quote": "USDT"},
    "okx": {"id": "BTC-USDT", "base": "BTC", "quote": "USDT"},
    "gateio": {"id": "BTC_USDT", "base": "BTC", "quote": "USDT"},
}
# ccxt's request path → stored body; ccxt's own preliminary calls answered the same way
ROUTES: Mapping[str, Mapping[str, str]] = {
    "kucoin": {"/api/v1/accounts": "kucoin.json"},
    "bitfinex": {"/auth/r/wallets": "bitfinex.json"},
    "htx": {"/v1/account/accounts/": "htx.json", "/v1/account/accounts": "htx_accounts.json"},
    "bybit": {"/v5/account/wallet-balance": "bybit.json"},
    "okx": {"/api/v5/account/balance": "okx.json"},
    "gateio": {"/spot/accounts": "gateio.json"},
}
# what ccxt would otherwise ask the venue first (is the account unified?)
OPTIONS: Mapping[str, dict[str, Any]] = {
    "bybit": {"enableUnifiedMargin": False, "enableUnifiedAccount": True},
    "gateio": {"unifiedAccount": False},
    "kucoin": {"uta": False},
}


async def ccxt_balances(exchange: str) -> list[AssetBalance]:
    client = new_client(exchange)
    client.apiKey, client.secret, client.password, client.uid = "key", "c2VjcmV0", "pass", "1"
    client.options.update(OPTIONS.get(exchange, {}))
    m = MARKETS[exchange]
    symbol = f"{m['base']}/{m['quote']}"
    client.set_markets(
        [
            {
                "id": m["id"],
                "symbol": symbol,
                "base": m["base"],
                "quote": m["quote"],
                "baseId": m["base"].lower(),
                "quoteId": m["quote"].lower(),
                "type": "spot",
                "spot": True,
                "active": True,
                "precision": {"amount": "0.00000001", "price": "0.01"},
                "limits": {},
            }
        ]
    )
    requested: list[str] = []

    async def fetch(url: str, method: str = "GET", headers: Any = None, body_: Any = None) -> Any:
        path = urlsplit(url).path
        requested.append(path)
        for fragment, name in ROUTES[exchange].items():
            if fragment in path:
                return body(name)
        raise AssertionError(f"{exchange}: no stored body for {method} {url}")

    client.fetch = fetch
    try:
        unified = await client.fetch_balance()
    finally:
        await client.close()
    assert requested, "ccxt made no request"
    return parse_balances(unified, exchange)  # the generic trading adapter's own mapping


@pytest.mark.parametrize(
    ("exchange", "expected"),
    [
        (
            "kucoin",
            {
                ("BTC", "spot"): (Decimal("0.00009788"), Decimal(0)),
                ("USDT", "spot"): (Decimal("100.5"), Decimal(20)),
                ("WAXP", "spot"): (Decimal(300), Decimal(0)),
            },
        ),
        (
            "bitfinex",
            {
                ("USDT", "spot"): (Decimal("19788.6529257"), Decimal(0)),
                ("BTC", "spot"): (Decimal("0.4"), Decimal("0.1")),
                ("USDC", "spot"): (Decimal(25), Decimal(0)),
                ("DASH", "spot"): (Decimal(3), Decimal(0)),
            },
        ),
        (
            "htx",
            {
                ("USDT", "spot"): (
                    Decimal("91.850043797676510303"),
                    Decimal("5.160000000000000015"),
                ),
                ("BTC", "spot"): (Decimal("0.001"), Decimal(0)),
            },
        ),
        (
            "bybit",
            {
                ("USDT", "spot"): (Decimal("1473.78116781"), Decimal("26.71883219")),
            },
        ),
        (
            "okx",
            {
                ("USDT", "spot"): (Decimal(1), Decimal("0.2")),
                ("BTC", "spot"): (Decimal("0.05"), Decimal(0)),
            },
        ),
        (
            "gateio",
            {
                ("ETH", "spot"): (Decimal("968.8"), Decimal(0)),
                ("USDT", "spot"): (Decimal("1500.25"), Decimal("10.5")),
                ("GT", "spot"): (Decimal(3), Decimal(0)),
            },
        ),
    ],
)
async def test_a_ccxt_venue_balance_through_ccxt_and_the_venue_table_is_the_platform_assets(
    exchange: str, expected: Held
) -> None:
    assert held(await ccxt_balances(exchange)) == expected


def test_every_roadmap_venue_has_a_table_of_codes_in_its_own_package() -> None:
    for exchange in registry.ROADMAP_EXCHANGES:
        table = registry.asset_codes(exchange)
        assert type(table).__module__ == "eip.exchanges.contract.symbols"
        assert registry.balance_asset(exchange, "btc").asset == "BTC"
    assert registry.asset_codes("bitfinex").aliases["UST"] == "USDT"
    assert registry.balance_asset("binance", "UST").asset == "UST"  # TerraUSD there
    assert registry.balance_asset("nosuchvenue", "xbt").asset == "BTC"
