"""Which feed serves which exchange, built from the service settings.

Binance, Kraken and Coinbase have native adapters (``feeds.factory``); the other roadmap
exchanges are served by the ccxt.pro adapter. Symbols come from
``settings.subscriptions[exchange]``; ``settings.exchange_urls[exchange]``, when set, is one
host serving the venue's REST and streams (the exchange simulator, a recording proxy) instead of
the venue's production URLs. Adapters are imported only when their exchange is used.
"""

from __future__ import annotations

from collections.abc import Callable

from eip.config import ConfigError
from eip.exchanges.contract.book_feed import BookFeed
from eip.order_book.settings import OrderBookSettings

FeedBuilder = Callable[[OrderBookSettings], BookFeed]


def _native(exchange: str) -> FeedBuilder:
    def build(settings: OrderBookSettings) -> BookFeed:
        from eip.exchanges.machinery.transport import LiveTransport
        from eip.order_book.feeds.factory import create_feed as create_native

        return create_native(
            exchange,
            list(settings.subscriptions.get(exchange, [])),
            LiveTransport(),
            simulator_url=settings.exchange_urls.get(exchange) or None,
        )

    return build


def _ccxt_pro(exchange: str) -> FeedBuilder:
    def build(settings: OrderBookSettings) -> BookFeed:
        from eip.order_book.feeds.ccxt_pro.feed import CcxtProFeed

        return CcxtProFeed(
            exchange,
            list(settings.subscriptions.get(exchange, [])),
            base_url=settings.exchange_urls.get(exchange) or None,
        )

    return build


# exchange ccxt id -> builder
FEEDS: dict[str, FeedBuilder] = {
    # BitMEX: ccxt 4.5.90 has no bitmex class, so its orderBookL2 adapter serves live too.
    **{ex: _native(ex) for ex in ("binance", "kraken", "coinbase", "bitmex")},
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
