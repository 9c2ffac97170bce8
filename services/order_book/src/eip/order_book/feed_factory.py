"""Which feed serves which exchange, built from the service settings.

The venues and their feeds are ``eip.exchanges.registry``'s: a venue whose package keeps live
books itself gets its native adapter, the others the ccxt.pro adapter. Symbols come from
``settings.subscriptions[exchange]``; ``settings.exchange_urls[exchange]``, when set, is one
host serving the venue's REST and streams (the exchange simulator, a recording proxy) instead of
the venue's production URLs. Adapters are imported only when their exchange is used.
"""

from __future__ import annotations

from eip.config import ConfigError
from eip.exchanges import registry
from eip.exchanges.contract.book_feed import BookFeed
from eip.order_book.settings import OrderBookSettings


def supported_exchanges() -> list[str]:
    return registry.book_exchanges()


def create_feed(exchange: str, settings: OrderBookSettings) -> BookFeed:
    if exchange not in supported_exchanges():
        raise ConfigError(
            OrderBookSettings.service_name,
            [
                f"no book feed for exchange {exchange!r}; "
                f"supported: {', '.join(supported_exchanges())}"
            ],
        )
    return registry.create_book_feed(
        exchange,
        list(settings.subscriptions.get(exchange, [])),
        base_url=settings.exchange_urls.get(exchange) or None,
    )
