"""Which feed serves which exchange. Adapters register here as ``"module:function"`` paths,
imported only when that exchange is configured, so an unused adapter costs nothing.

A builder is ``def create(settings: OrderBookSettings) -> BookFeed``; it reads its symbols from
``settings.subscriptions[exchange]`` and its endpoints from ``settings.exchange_urls[exchange]``.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import cast

from eip.config import ConfigError
from eip.order_book.feed_protocol import BookFeed
from eip.order_book.settings import OrderBookSettings

FeedBuilder = Callable[[OrderBookSettings], BookFeed]

# exchange ccxt id -> "module:function" of its builder
FEEDS: dict[str, str] = {}


def supported_exchanges() -> list[str]:
    return sorted(FEEDS)


def create_feed(exchange: str, settings: OrderBookSettings) -> BookFeed:
    target = FEEDS.get(exchange)
    if target is None:
        raise ConfigError(
            OrderBookSettings.service_name,
            [
                f"no book feed for exchange {exchange!r}; "
                f"supported: {', '.join(supported_exchanges()) or 'none'}"
            ],
        )
    module_name, _, function = target.partition(":")
    builder = cast(FeedBuilder, getattr(importlib.import_module(module_name), function))
    return builder(settings)
