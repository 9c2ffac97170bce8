from __future__ import annotations

import pytest

from eip.config import ConfigError
from eip.exchanges.binance.book import BinanceFeed
from eip.exchanges.bitmex.book import BitmexFeed
from eip.exchanges.ccxt.book import CcxtProFeed
from eip.exchanges.kraken.book import KrakenFeed
from eip.order_book.feed_factory import create_feed, supported_exchanges
from eip.order_book.settings import OrderBookSettings


def test_unknown_exchange_is_a_clear_config_error() -> None:
    with pytest.raises(ConfigError, match="no book feed for exchange 'mtgox'") as info:
        create_feed("mtgox", OrderBookSettings())
    assert "binance" in str(info.value)


def test_native_feeds_take_their_symbols_and_host_from_settings() -> None:
    settings = OrderBookSettings(
        subscriptions={"binance": ["BTC/USDT", "ETH/USDT"], "kraken": ["BTC/USD"]},
        exchange_urls={"binance": "http://127.0.0.1:1/"},
    )
    feed = create_feed("binance", settings)
    assert isinstance(feed, BinanceFeed)
    assert list(feed.symbols) == ["BTC/USDT", "ETH/USDT"]
    assert (feed.rest_url, feed.ws_url) == ("http://127.0.0.1:1", "ws://127.0.0.1:1")
    kraken = create_feed("kraken", settings)
    assert isinstance(kraken, KrakenFeed)
    assert kraken.rest_url.startswith("https://")  # no URL configured: production
    assert {"binance", "coinbase", "kraken", "okx"} <= set(supported_exchanges())


def test_roadmap_exchanges_without_a_native_adapter_use_ccxt_pro() -> None:
    settings = OrderBookSettings(
        subscriptions={"okx": ["BTC/USDT"]}, exchange_urls={"okx": "http://127.0.0.1:1"}
    )
    feed = create_feed("okx", settings)
    assert isinstance(feed, CcxtProFeed)
    assert (feed.exchange, feed.symbols, feed.base_url) == (
        "okx",
        ["BTC/USDT"],
        "http://127.0.0.1:1",
    )


def test_bitmex_is_served_by_its_native_adapter_as_ccxt_has_no_bitmex() -> None:
    feed = create_feed("bitmex", OrderBookSettings(subscriptions={"bitmex": ["BTC/USD:BTC"]}))
    assert isinstance(feed, BitmexFeed)
    assert feed.exchange == "bitmex"
    assert list(feed.symbols) == ["BTC/USD:BTC"]
