"""``MarketDataAdapter`` for any roadmap exchange on unmodified ccxt (async REST, pro streams).

One ``ccxt.pro`` instance per adapter does both: pro classes extend the async REST classes.
``enableRateLimit`` keeps ccxt's own per-venue request spacing (``rateLimit`` ms, and the
venue's cost table where ccxt has one); on top, a refusal for load (RateLimitExceeded,
DDoSProtection) blocks every call until ``Retry-After`` (or a backoff) has passed, and the
per-exchange circuit breaker stops calls to a venue that keeps failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

import ccxt.pro

from eip.exchanges import registry
from eip.exchanges.ccxt import parse as ccxt_parse
from eip.exchanges.ccxt.decimal_context import in_own_decimal_context
from eip.exchanges.ccxt.errors import map_ccxt_error
from eip.exchanges.ccxt.urls import rewrite_urls
from eip.exchanges.contract.errors import (
    BadRequest,
    CircuitOpen,
    ExchangeError,
    RateLimited,
    TransientExchangeError,
    UnknownExchange,
    UnknownSymbol,
)
from eip.exchanges.contract.market_data import (
    TIMEFRAME_SECONDS,
    Channel,
    Emit,
    Ohlcv,
    StreamStatus,
    Ticker,
    Timeframe,
    Trade,
)
from eip.exchanges.machinery.health import StreamHealth
from eip.resilience import CircuitBreaker, CircuitOpenError, RetryPolicy, retry_async

log = logging.getLogger(__name__)

T = TypeVar("T")

STREAM_RETRY = RetryPolicy(attempts=1_000_000, base_delay_s=0.25, max_delay_s=30.0)


def new_client(exchange: str, base_url: str | None = None, timeout_ms: int = 10_000) -> Any:
    """A ``ccxt.pro`` instance returning numbers as strings, optionally moved to ``base_url``."""
    # platform ids are ccxt's but where the registry says otherwise (gateio → gate)
    ccxt_id = registry.ccxt_id(exchange)
    cls = getattr(ccxt.pro, ccxt_id) if ccxt_id in ccxt.pro.exchanges else None
    if cls is None:
        raise UnknownExchange(
            f"exchange {exchange!r} is not supported by the installed ccxt ({ccxt.__version__})"
        )
    client = cls({"enableRateLimit": True, "timeout": timeout_ms})
    client.number = str  # parse_number returns the venue's text: no binary floats
    if base_url is not None:
        client.urls["api"] = rewrite_urls(client.urls["api"], base_url)
    return client


class CcxtMarketDataAdapter:
    def __init__(
        self,
        exchange: str,
        *,
        base_url: str | None = None,
        client: Any = None,
        stale_after_s: float = 30.0,
        retry_policy: RetryPolicy | None = None,
        stream_retry: RetryPolicy = STREAM_RETRY,
        breaker: CircuitBreaker | None = None,
        rate_limit_backoff_s: float = 5.0,
    ) -> None:
        self.exchange = exchange
        self.client = client if client is not None else new_client(exchange, base_url)
        self.health = StreamHealth(exchange, stale_after_s)
        self.breaker = breaker or CircuitBreaker(exchange)
        self.retry_policy = retry_policy or RetryPolicy(attempts=4, base_delay_s=0.2, max_delay_s=5)
        self.stream_retry = stream_retry
        self.rate_limit_backoff_s = rate_limit_backoff_s
        self._blocked_until = 0.0
        self._symbols: dict[str, str] | None = None  # ours -> ccxt's
        self._subscriptions: set[tuple[Channel, str]] = set()
        self._tasks: dict[tuple[Channel, str], asyncio.Task[None]] = {}
        self._emit: Emit | None = None

    # -- calls --------------------------------------------------------------------------------

    async def _call(self, fn: Callable[[], Awaitable[T]]) -> T:
        async def attempt() -> T:
            wait = self._blocked_until - time.monotonic()
            if wait > 0:
                await asyncio.sleep(wait)
            try:
                self.breaker.before_call()
            except CircuitOpenError as exc:
                raise CircuitOpen(self.exchange, exc.retry_after_s) from None
            try:
                result = await in_own_decimal_context(fn)
            except Exception as exc:
                error = map_ccxt_error(
                    self.exchange, exc, getattr(self.client, "last_response_headers", None)
                )
                if isinstance(error, TransientExchangeError):
                    self.breaker.record_failure()
                    self.health.error("rest", str(error))
                    if isinstance(error, RateLimited):
                        pause = error.retry_after_s or self.rate_limit_backoff_s
                        self._blocked_until = max(self._blocked_until, time.monotonic() + pause)
                else:
                    self.breaker.record_success()
                raise error from exc
            self.breaker.record_success()
            return result

        return await retry_async(
            attempt,
            self.retry_policy,
            retry_on=(TransientExchangeError,),
            give_up_on=(CircuitOpen,),
        )

    # -- REST ---------------------------------------------------------------------------------

    async def load_markets(self) -> list[str]:
        # ccxt caches its markets: once loaded, ask again, since the contract is what the venue
        # lists now (a symbol listed since start-up must become known).
        reload = self._symbols is not None
        markets = await self._call(lambda: self.client.load_markets(reload))
        self._index(markets)
        assert self._symbols is not None
        return sorted(self._symbols)

    def _index(self, markets: dict[str, Any]) -> None:
        symbols: dict[str, str] = {}
        for ccxt_symbol in markets:
            try:
                symbols[ccxt_parse.normalize_symbol(ccxt_symbol)] = ccxt_symbol
            except ValueError:
                continue  # option/odd ids that are not BASE/QUOTE
        self._symbols = symbols

    def use_markets(self, markets: dict[str, Any] | list[dict[str, Any]]) -> None:
        """Markets from elsewhere (a fixture, a shared cache) instead of ``load_markets``."""
        self.client.set_markets(markets)
        self._index(self.client.markets)

    async def _ccxt_symbol(self, symbol: str) -> str:
        if self._symbols is None:
            await self.load_markets()
        assert self._symbols is not None
        try:
            return self._symbols[symbol]
        except KeyError:
            raise UnknownSymbol(self.exchange, f"unknown symbol {symbol!r}") from None

    async def fetch_ticker(self, symbol: str) -> Ticker:
        market = await self._ccxt_symbol(symbol)
        raw = await self._call(lambda: self.client.fetch_ticker(market))
        return self._parse(lambda: ccxt_parse.ticker(self.exchange, raw, _now(), self._market(raw)))

    async def fetch_trades(
        self, symbol: str, since: datetime | None = None, limit: int | None = None
    ) -> list[Trade]:
        market = await self._ccxt_symbol(symbol)
        since_ms = _ms(self.exchange, since)
        rows = await self._call(lambda: self.client.fetch_trades(market, since_ms, limit))
        received = _now()
        trades = self._parse(
            lambda: [ccxt_parse.trade(self.exchange, r, received, self._market(r)) for r in rows]
        )
        if since is not None:
            trades = [t for t in trades if t.exchange_time is None or t.exchange_time >= since]
        # ccxt orders by timestamp only; within a millisecond numeric ids give venue order
        if all(t.trade_id.isdigit() for t in trades):
            trades.sort(key=lambda t: (t.exchange_time or received, int(t.trade_id)))
        else:
            trades.sort(key=lambda t: t.exchange_time or received)
        return trades[:limit] if limit is not None else trades

    async def fetch_ohlcv(
        self,
        symbol: str,
        timeframe: Timeframe,
        since: datetime | None = None,
        limit: int | None = None,
    ) -> list[Ohlcv]:
        if timeframe not in TIMEFRAME_SECONDS:
            raise BadRequest(self.exchange, f"unsupported timeframe {timeframe!r}")
        market = await self._ccxt_symbol(symbol)
        since_ms = _ms(self.exchange, since)
        rows = await self._call(lambda: self.client.fetch_ohlcv(market, timeframe, since_ms, limit))
        candles = self._parse(
            lambda: [ccxt_parse.ohlcv(self.exchange, symbol, timeframe, r) for r in rows]
        )
        now = _now()
        width = TIMEFRAME_SECONDS[timeframe]
        # venues include the interval in progress; history is closed candles only
        closed = [c for c in candles if (now - c.open_time).total_seconds() >= width]
        closed.sort(key=lambda c: c.open_time)
        if since is not None:
            closed = [c for c in closed if c.open_time >= since]
        return closed

    def _market(self, row: Mapping[str, Any]) -> Mapping[str, Any] | None:
        """ccxt's market of a parsed row's symbol (contract size, linear or inverse)."""
        markets = self.client.markets or {}
        market = markets.get(row.get("symbol"))
        return market if isinstance(market, Mapping) else None

    def _parse(self, fn: Callable[[], T]) -> T:
        try:
            return fn()
        except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
            self.health.error("parse", repr(exc))
            raise ExchangeError(self.exchange, f"unparseable response: {exc!r}") from exc

    # -- streams ------------------------------------------------------------------------------

    async def subscribe(self, channel: Channel, symbol: str) -> None:
        if channel not in ("trades", "ticker"):
            raise BadRequest(self.exchange, f"unknown channel {channel!r}")
        await self._ccxt_symbol(symbol)
        key = (channel, symbol)
        self._subscriptions.add(key)
        if self._emit is not None and key not in self._tasks:
            self._start(key)

    async def unsubscribe(self, channel: Channel, symbol: str) -> None:
        key = (channel, symbol)
        self._subscriptions.discard(key)
        task = self._tasks.pop(key, None)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        market = self._symbols.get(symbol) if self._symbols else None
        method = "un_watch_trades" if channel == "trades" else "un_watch_ticker"
        if market is not None and self.client.has.get(
            "unWatchTrades" if channel == "trades" else "unWatchTicker"
        ):
            # best effort, bounded: the loop has stopped anyway
            with contextlib.suppress(Exception):
                async with asyncio.timeout(5):
                    await getattr(self.client, method)(market)

    def subscriptions(self) -> set[tuple[Channel, str]]:
        return set(self._subscriptions)

    def _start(self, key: tuple[Channel, str]) -> None:
        self._tasks[key] = asyncio.create_task(self._watch(*key), name=f"{self.exchange}:{key}")

    async def _watch(self, channel: Channel, symbol: str) -> None:
        """One subscription: ccxt.pro reconnects and resubscribes on the next watch call."""
        assert self._emit is not None
        emit = self._emit
        market = await self._ccxt_symbol(symbol)
        delays = self.stream_retry.delays()
        while True:
            try:
                if channel == "trades":
                    rows = await in_own_decimal_context(lambda: self.client.watch_trades(market))
                    self.health.set_connected(True)
                    received = _now()
                    for row in rows:
                        self.health.message()
                        await emit(
                            ccxt_parse.trade(self.exchange, row, received, self._market(row))
                        )
                else:
                    raw = await in_own_decimal_context(lambda: self.client.watch_ticker(market))
                    self.health.set_connected(True)
                    self.health.message()
                    await emit(ccxt_parse.ticker(self.exchange, raw, _now(), self._market(raw)))
                delays = self.stream_retry.delays()
            except asyncio.CancelledError:
                raise
            except (KeyError, ValueError, TypeError, ArithmeticError) as exc:
                self.health.error("parse", f"{channel} {symbol}: {exc!r}")
            except Exception as exc:
                error = map_ccxt_error(self.exchange, exc)
                self.health.set_connected(False, str(error))
                self.health.error("stream", str(error))
                if isinstance(error, BadRequest):
                    log.error("subscription refused", extra={"exchange": self.exchange})
                    self._subscriptions.discard((channel, symbol))
                    self._tasks.pop((channel, symbol), None)
                    return
                self.health.reconnecting()
                await asyncio.sleep(next(delays, self.stream_retry.max_delay_s))

    async def run(self, emit: Emit) -> None:
        self._emit = emit
        for key in sorted(self._subscriptions):
            if key not in self._tasks:
                self._start(key)
        interval = max(0.05, min(1.0, self.health.stale_after_s / 4))
        try:
            while True:
                await asyncio.sleep(interval)
                self.health.check_stale(bool(self._subscriptions))
        finally:
            self._emit = None
            tasks = list(self._tasks.values())
            self._tasks.clear()
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    def status(self) -> StreamStatus:
        headroom: float | None = None
        if time.monotonic() < self._blocked_until:
            headroom = 0.0
        return self.health.status(self.breaker.is_open, headroom)

    async def close(self) -> None:
        with contextlib.suppress(Exception):
            await self.client.close()


def _now() -> datetime:
    return datetime.now(UTC)


def _ms(exchange: str, when: datetime | None) -> int | None:
    if when is None:
        return None
    if when.tzinfo is None:
        raise BadRequest(exchange, "times must be timezone-aware")
    return int(when.timestamp() * 1000)
