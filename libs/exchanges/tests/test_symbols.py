import json

import pytest

from eip.exchanges.binance.symbols import binance_symbol_map
from eip.exchanges.coinbase.symbols import coinbase_product_id, coinbase_symbol
from eip.exchanges.contract.symbols import normalize_asset
from eip.exchanges.kraken.symbols import kraken_symbol_map
from eip.exchanges.machinery.capture import iter_entries
from eip.testing.recorded import recorded_capture


@pytest.mark.parametrize(
    ("code", "expected"),
    [
        ("XBT", "BTC"),
        ("XXBT", "BTC"),
        ("XDG", "DOGE"),
        ("XXDG", "DOGE"),
        ("ZUSD", "USD"),
        ("ZEUR", "EUR"),
        ("usdt", "USDT"),
        ("DOT", "DOT"),
        ("XTZ", "XTZ"),
    ],
)
def test_asset_aliases(code: str, expected: str) -> None:
    assert normalize_asset(code) == expected


def test_empty_asset_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        normalize_asset(" ")


def _first_http(name: str, needle: str) -> dict:  # type: ignore[type-arg]
    for _, row in iter_entries(recorded_capture(name)):
        if row["t"] == "http" and needle in row["url"]:
            return json.loads(row["data"])  # type: ignore[no-any-return]
    raise AssertionError(f"no {needle} in {name}")


def test_binance_symbols_from_recorded_exchange_info() -> None:
    symbols = binance_symbol_map(_first_http("binance-spot-2021-10.jsonl", "exchangeInfo"))
    assert symbols.symbol("NKNUSDT") == "NKN/USDT"
    assert symbols.exchange_id("RUNE/EUR") == "RUNEEUR"
    with pytest.raises(KeyError, match="unknown symbol"):
        symbols.exchange_id("NOPE/USDT")


def test_kraken_pairs_from_recorded_asset_pairs() -> None:
    symbols = kraken_symbol_map(_first_http("kraken-ws1-2021-04.jsonl", "AssetPairs"))
    assert symbols.symbol("XXBTZUSD") == "BTC/USD"
    assert symbols.symbol("XBT/USD") == "BTC/USD"
    assert symbols.symbol("XBTUSD") == "BTC/USD"
    assert symbols.exchange_id("BTC/CHF") == "XBT/CHF"
    assert symbols.symbol("XDGUSD") == "DOGE/USD"


def test_coinbase_product_ids() -> None:
    assert coinbase_product_id("BTC/USD") == "BTC-USD"
    assert coinbase_symbol("ETH-USDC") == "ETH/USDC"
    with pytest.raises(ValueError, match="BASE/QUOTE"):
        coinbase_product_id("BTCUSD")
