"""``MarketDataAdapter`` for Binance spot on its own protocols (no ccxt).

Streams: ``<s>@aggTrade`` for trades (the trade ids REST ``/api/v3/aggTrades`` pages by, so live
and backfilled trades share one id space), ``<s>@ticker`` (24 h statistics once a second) plus
``<s>@bookTicker`` (every top-of-book change) merged into one ``Ticker``.
"""

from __future__ import annotations

import logging
import time
from datetime import UTC, datetime
from typing import Any

import httpx

from eip.exchanges.binance import wire
from eip.exchanges.binance.rest import BinanceRest
from eip.exchanges.binance.stream import RECONNECT_POLICY, BinanceStream
from eip.exchanges.binance.symbols import binance_symbol_map
from eip.exchanges.binance.weights import WeightLimiter
from eip.exchanges.contract.errors import BadRequest
from eip.exchanges.contract.market_data import (
    TIMEFRAME_SECONDS,
    Channel,
    Emit,
    Ohlcv,
    Ticker,
    Timeframe,
    Trade,
)
from eip.exchanges.machinery.native_adapter import NativeAdapter
from eip.exchanges.machinery.urls import ws_url
from eip.resilience import CircuitBreaker, RetryPolicy

log = logging.getLogger(__name__)

REST_BASE = "https://api.binance.com"
WS_BASE = "wss://stream.binance.com:9443"
MAX_LIMIT = 1000
CHANNELS: tuple[Channel, ...] = ("trades", "ticker")


def _ms(when: datetime) -> int:
    if when.tzinfo is None:
        raise BadRequest("binance", "times must be timezone-aware")
    return int(when.timestamp() * 1000)


class BinanceMarketDataAdapter(NativeAdapter):
    exchange = "binance"
    rest: BinanceRest
    stream: BinanceStream

    def __init__(
        self,
        *,
        rest_base_url: str = REST_BASE,
        ws_base_url: str = WS_BASE,
        stale_after_s: float = 30.0,
        reconnect_when_quiet_s: float | None = None,
        retry_policy: RetryPolicy | None = None,
        reconnect_policy: RetryPolicy = RECONNECT_POLICY,
        breaker: CircuitBreaker | None = None,
        http_client: httpx.AsyncClient | None = None,
        ping_interval_s: float = 20.0,
        ping_timeout_s: float = 20.0,
    ) -> None:
        super().__init__(stale_after_s, reconnect_when_quiet_s, breaker)
        self.limiter = WeightLimiter()
        self.rest = BinanceRest(
            rest_base_url,
            self.limiter,
            self.breaker,
            self.health,
            retry_policy or RetryPolicy(attempts=4, base_delay_s=0.2, max_delay_s=5.0),
            client=http_client,
        )
        self.stream = BinanceStream(
            ws_base_url, self.health, reconnect_policy, ping_interval_s, ping_timeout_s
        )
        self._routes: dict[str, tuple[Channel, str]] = {}  # "btcusdt@aggTrade" -> (ch, symbol)
        self._tickers: dict[str, wire.TickerMerger] = {}

    # -- REST ---------------------------------------------------------------------------------

    async def load_markets(self) -> list[str]:
        info = await self.rest.get("/api/v3/exchangeInfo")
        self.limiter.configure(info)
        self._symbols = binance_symbol_map(info)
        return sorted(self._symbols.to_exchange)

    async def fetch_ticker(self, symbol: str) -> Ticker:
        instrument = await self._instrument(symbol)
        day = await self.rest.get("/api/v3/ticker/24hr", {"symbol": instrument})
        book = await self.rest.get("/api/v3/ticker/bookTicker", {"symbol": instrument})
        return wire.rest_ticker(symbol, day, book, datetime.now(UTC))

    async def fetch_trades(
        self, symbol: str, since: datetime | None = None, limit: int | None = None
    ) -> list[Trade]:
        params: dict[str, str | int] = {"limit": _limit(limit)}
        if since is not None:
            params["startTime"] = _ms(since)
        return await self._agg_trades(symbol, params)

    async def fetch_trades_from_id(
        self, symbol: str, from_id: int, limit: int | None = None
    ) -> list[Trade]:
        """Trades whose aggregate id is ``from_id`` or later: gap-free paging by id."""
        return await self._agg_trades(symbol, {"fromId": from_id, "limit": _limit(limit)})

    async def _agg_trades(self, symbol: str, params: dict[str, str | int]) -> list[Trade]:
        params["symbol"] = await self._instrument(symbol)
        rows = await self.rest.get("/api/v3/aggTrades", params)
        received = datetime.now(UTC)
        trades = [wire.agg_trade(symbol, row, received) for row in rows]
        trades.sort(key=lambda t: int(t.trade_id))
        return trades

    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: Timeframe,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Ohlcv]:
        if timeframe not in TIMEFRAME_SECONDS:
            raise BadRequest(self.exchange, f"unsupported timeframe {timeframe!r}")
        params: dict[str, str | int] = {
            "symbol": await self._instrument(symbol),
            "interval": timeframe,
            "limit": _limit(limit),
        }
        if since is not None:
            params["startTime"] = _ms(since)
        rows = await self.rest.get("/api/v3/klines", params)
        now_ms = int(time.time() * 1000)
        # the last row is the interval still in progress; only closed candles are history
        return [wire.kline(symbol, timeframe, row) for row in rows if int(row[6]) < now_ms]

    # -- streams ------------------------------------------------------------------------------

    def _stream_names(self, channel: Channel, instrument: str) -> list[str]:
        low = instrument.lower()
        if channel == "trades":
            return [f"{low}@aggTrade"]
        return [f"{low}@ticker", f"{low}@bookTicker"]

    async def subscribe(self, channel: Channel, symbol: str) -> None:
        if channel not in CHANNELS:
            raise BadRequest(self.exchange, f"unknown channel {channel!r}")
        instrument = await self._instrument(symbol)
        names = self._stream_names(channel, instrument)
        for name in names:
            self._routes[name] = (channel, symbol)
        if channel == "ticker":
            self._tickers.setdefault(symbol, wire.TickerMerger(symbol))
        self._subscriptions.add((channel, symbol))
        await self.stream.add(names)

    async def unsubscribe(self, channel: Channel, symbol: str) -> None:
        if (channel, symbol) not in self._subscriptions:
            return
        instrument = await self._instrument(symbol)
        names = self._stream_names(channel, instrument)
        self._subscriptions.discard((channel, symbol))
        await self.stream.remove(names)
        for name in names:
            self._routes.pop(name, None)
        if channel == "ticker":
            self._tickers.pop(symbol, None)

    async def run(self, emit: Emit) -> None:
        async def on_event(stream: str, data: dict[str, Any]) -> None:
            route = self._routes.get(stream)
            if route is None:
                return  # an unsubscribed stream's last frames
            self.health.message()
            channel, symbol = route
            received = datetime.now(UTC)
            try:
                if channel == "trades":
                    event: Trade | Ticker = wire.agg_trade(symbol, data, received)
                else:
                    merger = self._tickers[symbol]
                    if stream.endswith("@bookTicker"):
                        event = merger.on_book(data, received)
                    else:
                        event = merger.on_day(data, received)
            except (KeyError, ValueError, ArithmeticError, TypeError) as exc:
                self.health.error("parse", f"{stream}: {exc!r}")
                log.warning("unparseable binance event", extra={"stream": stream})
                return
            await emit(event)

        await self._run_stream(on_event)

    def _headroom(self) -> float:
        return self.limiter.headroom()


def _limit(limit: int | None) -> int:
    if limit is None:
        return 500
    if not 1 <= limit <= MAX_LIMIT:
        raise BadRequest("binance", f"limit must be 1..{MAX_LIMIT}, got {limit}")
    return limit


def create_adapter(
    *, base_url: str | None = None, ws_base_url: str | None = None, **options: Any
) -> BinanceMarketDataAdapter:
    """The registry's factory: ``base_url`` moves REST and, unless ``ws_base_url`` says
    otherwise, the streams (``ws``/``wss``) to one host, e.g. the simulator."""
    if base_url is not None:
        options.setdefault("rest_base_url", base_url)
        options.setdefault("ws_base_url", ws_base_url or ws_url(base_url))
    elif ws_base_url is not None:
        options.setdefault("ws_base_url", ws_base_url)
    return BinanceMarketDataAdapter(**options)
