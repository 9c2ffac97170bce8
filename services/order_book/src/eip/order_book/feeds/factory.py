"""One place that knows which adapter serves which exchange."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

from eip.exchanges.machinery.transport import Transport
from eip.exchanges.machinery.ws_book_feed import FeedOptions, WsBookFeed
from eip.order_book.feeds.binance import BinanceFeed
from eip.order_book.feeds.binance import feed as binance
from eip.order_book.feeds.bitfinex import BitfinexFeed
from eip.order_book.feeds.bitmex import BitmexFeed
from eip.order_book.feeds.bitmex import feed as bitmex
from eip.order_book.feeds.bybit import BybitFeed
from eip.order_book.feeds.coinbase import CoinbaseExchangeFeed, CoinbaseFeed
from eip.order_book.feeds.coinbase import exchange as coinbase_exchange
from eip.order_book.feeds.coinbase import feed as coinbase
from eip.order_book.feeds.gateio import GateioFeed
from eip.order_book.feeds.htx import HtxFeed
from eip.order_book.feeds.kraken import KrakenFeed
from eip.order_book.feeds.kraken import feed as kraken
from eip.order_book.feeds.kucoin import KucoinFeed
from eip.order_book.feeds.kucoin import feed as kucoin
from eip.order_book.feeds.okx import OkxFeed

NATIVE = (
    "binance",
    "kraken",
    "coinbase",
    "bitmex",
    "okx",
    "bitfinex",
    "bybit",
    "kucoin",
    "htx",
    "gate",
)


def ws_of(http_url: str) -> str:
    """``http://host:port`` → ``ws://host:port`` (``https`` → ``wss``), for one-host venues."""
    parts = urlsplit(http_url)
    scheme = {"http": "ws", "https": "wss"}.get(parts.scheme, parts.scheme)
    return urlunsplit((scheme, parts.netloc, "", "", ""))


# Where the exchange simulator serves each venue's streams (its REST paths are the venues' own).
SIMULATOR_WS_PATHS = {"binance": "", "kraken": "/kraken/v2", "coinbase": "/coinbase/ws"}


def create_feed(
    exchange: str,
    symbols: list[str],
    transport: Transport,
    options: FeedOptions | None = None,
    simulator_url: str | None = None,
    **settings: Any,
) -> WsBookFeed:
    """A native adapter; ``simulator_url`` points it at the exchange simulator instead.

    ``settings`` are the adapter's own keywords (Kraken: ``depth``, ``api``; Coinbase: ``api``
    ``advanced`` (default) or ``exchange``, the ex-Pro feed; OKX: ``channel``; Bitfinex:
    ``prec``, ``length``; Bybit: ``topic``; KuCoin: ``snapshot_path``).
    """
    if exchange not in NATIVE:
        raise ValueError(f"no native adapter for {exchange!r}; native: {', '.join(NATIVE)}")
    if simulator_url and exchange not in SIMULATOR_WS_PATHS:
        raise ValueError(f"the simulator does not serve {exchange!r}")
    rest_url = ws_url = None
    if simulator_url:
        rest_url = simulator_url.rstrip("/")
        ws_url = ws_of(rest_url) + SIMULATOR_WS_PATHS[exchange]
    if exchange == "binance":
        return BinanceFeed(
            symbols, transport, options, rest_url or binance.REST_URL, ws_url or binance.WS_URL
        )
    if exchange == "gate":
        return GateioFeed(symbols, transport, options, venues=settings.get("venues"))
    if exchange == "htx":
        return HtxFeed(symbols, transport, options)
    if exchange == "kucoin":
        return KucoinFeed(
            symbols,
            transport,
            options,
            snapshot_path=settings.get("snapshot_path", kucoin.SNAPSHOT_PATHS[0]),
        )
    if exchange == "bybit":
        return BybitFeed(symbols, transport, options, topic=settings.get("topic", "orderBookL2_25"))
    if exchange == "bitfinex":
        return BitfinexFeed(
            symbols,
            transport,
            options,
            prec=settings.get("prec", "P0"),
            length=settings.get("length", "100"),
        )
    if exchange == "okx":
        return OkxFeed(symbols, transport, options, channel=settings.get("channel", "books"))
    if exchange == "bitmex":
        return BitmexFeed(symbols, transport, options, bitmex.REST_URL, bitmex.WS_URL)
    if exchange == "kraken":
        api = settings.get("api", "v2")
        if api not in ("v1", "v2"):
            raise ValueError(f"Kraken API must be v1 or v2, not {api!r}")
        return KrakenFeed(
            symbols,
            transport,
            options,
            depth=int(settings.get("depth", 10)),
            api=api,
            rest_url=rest_url or kraken.REST_URL,
            ws_url=ws_url,
        )
    api = settings.get("api", "advanced")
    if api == "exchange":
        if simulator_url:
            raise ValueError("the simulator serves Coinbase Advanced Trade, not api='exchange'")
        return CoinbaseExchangeFeed(
            symbols, transport, options, coinbase_exchange.REST_URL, coinbase_exchange.WS_URL
        )
    if api != "advanced":
        raise ValueError(f"Coinbase API must be advanced or exchange, not {api!r}")
    return CoinbaseFeed(
        symbols, transport, options, rest_url or coinbase.REST_URL, ws_url or coinbase.WS_URL
    )
