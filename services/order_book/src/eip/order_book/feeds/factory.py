"""One place that knows which adapter serves which exchange."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from eip.order_book.feeds.base import FeedOptions, WsBookFeed
from eip.order_book.feeds.binance import BinanceFeed
from eip.order_book.feeds.coinbase import CoinbaseFeed
from eip.order_book.feeds.kraken import KrakenFeed
from eip.order_book.feeds.transport import Transport

NATIVE = ("binance", "kraken", "coinbase")


def ws_of(http_url: str) -> str:
    """``http://host:port`` → ``ws://host:port`` (``https`` → ``wss``), for one-host venues."""
    parts = urlsplit(http_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, "", "", ""))


def create_feed(
    exchange: str,
    symbols: list[str],
    transport: Transport,
    options: FeedOptions | None = None,
    base_url: str | None = None,
    **settings: Any,
) -> WsBookFeed:
    """A native adapter; ``base_url`` points REST and WebSocket at one host (a simulator).

    ``settings`` are the adapter's own keywords (Kraken: ``depth``, ``api``).
    """
    urls: dict[str, str] = {}
    if base_url:
        base = base_url.rstrip("/")
        ws = ws_of(base)
        urls = {"rest_url": base, "ws_url": ws}
        if exchange == "kraken":
            urls["ws_url"] = ws + ("/v2" if settings.get("api", "v2") == "v2" else "")
    if exchange == "binance":
        return BinanceFeed(symbols, transport, options, **urls)
    if exchange == "kraken":
        return KrakenFeed(symbols, transport, options, **settings, **urls)
    if exchange == "coinbase":
        return CoinbaseFeed(symbols, transport, options, **urls)
    raise ValueError(f"no native adapter for {exchange!r}; native: {', '.join(NATIVE)}")
