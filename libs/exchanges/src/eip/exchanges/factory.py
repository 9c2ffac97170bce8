"""One call to get the right adapter for an exchange id."""

from __future__ import annotations

from typing import Any

from eip.exchanges.contract.errors import UnknownExchange
from eip.exchanges.contract.market_data import MarketDataAdapter
from eip.exchanges.contract.signing import RequestSigner
from eip.exchanges.contract.trading import TradingAdapter

# The roadmap's exchanges, by the platform's id (ccxt's, except "gateio" which ccxt calls "gate").
ROADMAP_EXCHANGES: tuple[str, ...] = (
    "binance",
    "coinbase",
    "kraken",
    "kucoin",
    "bitfinex",
    "htx",
    "bybit",
    "okx",
    "bitmex",
    "gateio",
)


def create_market_data_adapter(
    exchange: str,
    *,
    base_url: str | None = None,
    ws_base_url: str | None = None,
    native: bool = True,
    **options: Any,
) -> MarketDataAdapter:
    """Native Binance on ``websockets`` when ``native``, native BitMEX always; ccxt for the rest.

    ``base_url`` moves REST (and, for ccxt, the WebSocket hosts) to another host, e.g. the
    simulator; ``ws_base_url`` defaults to ``base_url`` with ``ws``/``wss``. ``options`` go to
    the adapter's constructor (``stale_after_s``, ``retry_policy``, ``breaker``, ...).
    """
    name = exchange.strip().lower()
    if name == "binance" and native:
        from eip.exchanges.binance import BinanceMarketDataAdapter

        if base_url is not None:
            options.setdefault("rest_base_url", base_url)
            options.setdefault("ws_base_url", ws_base_url or _ws_of(base_url))
        elif ws_base_url is not None:
            options.setdefault("ws_base_url", ws_base_url)
        return BinanceMarketDataAdapter(**options)
    if name == "bitmex":
        # ccxt 4.5.90 has no bitmex class: BitMEX is always the native adapter
        from eip.exchanges.bitmex import BitmexMarketDataAdapter

        if base_url is not None:
            options.setdefault("rest_base_url", base_url)
        if ws_base_url is not None:
            options.setdefault("ws_url", ws_base_url)
        elif base_url is not None:
            # BitMEX serves REST under /api/v1 and the stream at /realtime on the same host
            ws_host = _ws_of(base_url).rstrip("/").removesuffix("/api/v1")
            options.setdefault("ws_url", ws_host + "/realtime")
        return BitmexMarketDataAdapter(**options)

    from eip.exchanges.ccxt_adapter import CcxtMarketDataAdapter, new_client

    client = new_client(name, base_url)  # raises UnknownExchange for ids ccxt lacks
    return CcxtMarketDataAdapter(name, client=client, **options)


def create_trading_adapter(
    exchange: str,
    signer: RequestSigner,
    *,
    base_url: str | None = None,
    ws_base_url: str | None = None,
    **options: Any,
) -> TradingAdapter:
    """The trading adapter of one account at ``exchange``, signing through ``signer`` (the auth
    service: ``eip.credentials_client.AuthRequestSigner``).

    ``base_url`` moves REST (and ``ws_base_url``, by default ``base_url`` with ``ws``/``wss``,
    the private stream) to another host, e.g. the simulator; ``options`` go to the adapter's
    constructor. Venues follow as their adapters land (Kraken, Coinbase, BitMEX, ccxt).
    """
    name = exchange.strip().lower()
    if name == "binance":
        from eip.exchanges.binance.trading import BinanceTradingAdapter

        if base_url is not None:
            options.setdefault("rest_base_url", base_url)
        ws_base = ws_base_url or (_ws_of(base_url) if base_url is not None else None)
        if ws_base is not None:
            options.setdefault("ws_api_url", ws_base.rstrip("/") + "/ws-api/v3")
        return BinanceTradingAdapter(signer, **options)
    raise UnknownExchange(f"no trading adapter for {exchange!r} yet")


def _ws_of(base_url: str) -> str:
    if base_url.startswith("https://"):
        return "wss://" + base_url[len("https://") :]
    if base_url.startswith("http://"):
        return "ws://" + base_url[len("http://") :]
    return base_url
