"""Which feed serves which exchange: one builder per venue, importing its adapter only when
that exchange is configured, so an unused adapter costs nothing.

A builder takes the service settings and reads its symbols from
``settings.subscriptions[exchange]`` and its endpoints from ``settings.exchange_urls[exchange]``
(empty: the venue's production URLs).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from eip.config import ConfigError
from eip.order_book.feed_protocol import BookFeed
from eip.order_book.settings import OrderBookSettings

FeedBuilder = Callable[[OrderBookSettings], BookFeed]


def _endpoints(settings: OrderBookSettings, exchange: str) -> dict[str, Any]:
    urls = settings.exchange_urls.get(exchange)
    if urls is None:
        return {}
    return {k: v for k, v in (("rest_url", urls.rest), ("ws_url", urls.ws)) if v}


def _binance(settings: OrderBookSettings) -> BookFeed:
    from eip.order_book.feeds.binance import BinanceFeed
    from eip.order_book.feeds.transport import LiveTransport

    return BinanceFeed(
        list(settings.subscriptions.get("binance", [])),
        LiveTransport(),
        **_endpoints(settings, "binance"),
    )


def _kraken(settings: OrderBookSettings) -> BookFeed:
    from eip.order_book.feeds.kraken.feed import KrakenFeed
    from eip.order_book.feeds.transport import LiveTransport

    return KrakenFeed(
        list(settings.subscriptions.get("kraken", [])),
        LiveTransport(),
        **_endpoints(settings, "kraken"),
    )


def _coinbase(settings: OrderBookSettings) -> BookFeed:
    from eip.order_book.feeds.coinbase.feed import CoinbaseFeed
    from eip.order_book.feeds.transport import LiveTransport

    return CoinbaseFeed(
        list(settings.subscriptions.get("coinbase", [])),
        LiveTransport(),
        **_endpoints(settings, "coinbase"),
    )


def _ccxt_pro(exchange: str) -> FeedBuilder:
    """The generic adapter for roadmap exchanges without a native one; ``exchange_urls.rest``
    moves all of ccxt's URLs to one host (a simulator)."""

    def build(settings: OrderBookSettings) -> BookFeed:
        from eip.order_book.feeds.ccxt_pro.feed import CcxtProFeed

        urls = settings.exchange_urls.get(exchange)
        return CcxtProFeed(
            exchange,
            list(settings.subscriptions.get(exchange, [])),
            base_url=urls.rest if urls and urls.rest else None,
        )

    return build


# exchange ccxt id -> builder
FEEDS: dict[str, FeedBuilder] = {
    "binance": _binance,
    "kraken": _kraken,
    "coinbase": _coinbase,
    **{ex: _ccxt_pro(ex) for ex in ("kucoin", "bitfinex", "htx", "bybit", "okx", "gate")},
}


def supported_exchanges() -> list[str]:
    return sorted(FEEDS)


def create_feed(exchange: str, settings: OrderBookSettings) -> BookFeed:
    builder = FEEDS.get(exchange)
    if builder is None:
        raise ConfigError(
            OrderBookSettings.service_name,
            [
                f"no book feed for exchange {exchange!r}; "
                f"supported: {', '.join(supported_exchanges())}"
            ],
        )
    return builder(settings)
