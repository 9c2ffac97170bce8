"""Run recorded venue responses through the ccxt adapter's real request and parse path.

ccxt builds each request as it would for the venue; ``fetch`` (ccxt's one HTTP call) is
replaced by a lookup of the stored body by URL path, so everything after the socket — ccxt's
response parsing with ``number = str`` and the adapter's mapping — runs unmodified.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from eip.exchanges.ccxt.market_data import CcxtMarketDataAdapter, new_client
from eip.exchanges.ccxt.replay import spot_market

PAYLOADS = Path(__file__).parent.parent / "payloads"  # shared with the native venues' tests

# Just enough of each venue's market to build requests: ccxt's unified market structure.
MARKETS: dict[str, dict[str, Any]] = {
    "binance": {"id": "BNBBTC", "symbol": "BNB/BTC", "base": "BNB", "quote": "BTC"},
    "kraken": {
        "id": "XXBTZUSD",
        "symbol": "BTC/USD",
        "base": "BTC",
        "quote": "USD",
        "baseId": "XXBT",
        "quoteId": "ZUSD",
        "altname": "XBTUSD",
        "wsId": "XBT/USD",
    },
    "coinbase": {"id": "BTC-USD", "symbol": "BTC/USD", "base": "BTC", "quote": "USD"},
    "kucoin": {"id": "BTC-USDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT"},
    "okx": {"id": "BTC-USDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT"},
    "bybit": {"id": "BTCUSDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT"},
    "gateio": {"id": "BTC_USDT", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT"},
    "htx": {"id": "btcusdt", "symbol": "BTC/USDT", "base": "BTC", "quote": "USDT"},
    "bitfinex": {"id": "tBTCUSD", "symbol": "BTC/USD", "base": "BTC", "quote": "USD"},
}


def market(exchange: str) -> dict[str, Any]:
    m = MARKETS[exchange]
    return {**spot_market(m["id"], m["base"], m["quote"]), **m}


def load(exchange: str, name: str) -> Any:
    return json.loads((PAYLOADS / exchange / name).read_text())


class Router:
    """Answers ccxt's requests from the payload folder; records the paths asked for."""

    def __init__(self, exchange: str, routes: dict[str, str]) -> None:
        self.exchange = exchange
        self.routes = routes  # path fragment -> payload file
        self.requested: list[str] = []

    async def fetch(
        self, url: str, method: str = "GET", headers: Any = None, body: Any = None
    ) -> Any:
        path = urlsplit(url).path
        self.requested.append(url)
        for fragment, name in self.routes.items():
            if fragment in path:
                return load(self.exchange, name)
        raise AssertionError(f"{self.exchange}: no payload for {method} {url}")


def adapter_for(exchange: str, routes: dict[str, str]) -> tuple[CcxtMarketDataAdapter, Router]:
    client = new_client(exchange)
    router = Router(exchange, routes)
    client.fetch = router.fetch
    adapter = CcxtMarketDataAdapter(exchange, client=client)
    adapter.use_markets([market(exchange)])
    return adapter, router
