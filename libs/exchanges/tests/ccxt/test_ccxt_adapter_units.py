"""The ccxt adapter's call discipline with a scripted ccxt client: retries, Retry-After,
the breaker's open and half-open states, refusal of binary floats."""

from __future__ import annotations

import asyncio
from typing import Any

import ccxt
import pytest

from eip.exchanges.ccxt.market_data import CcxtMarketDataAdapter, new_client
from eip.exchanges.contract.errors import BadRequest, CircuitOpen, ExchangeError, RateLimited
from eip.resilience import CircuitBreaker, RetryPolicy

TICKER = {"symbol": "BTC/USDT", "bid": "1.5", "ask": "1.6", "last": "1.55", "timestamp": 0}


class ScriptedClient:
    """Answers ``fetch_ticker`` from a script of results and exceptions."""

    def __init__(self, script: list[Any]) -> None:
        self.script = script
        self.calls = 0
        self.last_response_headers: dict[str, str] = {}
        self.markets = {"BTC/USDT": {"symbol": "BTC/USDT"}}
        self.has: dict[str, bool] = {}

    def set_markets(self, markets: Any) -> None:
        pass

    async def load_markets(self) -> dict[str, Any]:
        return self.markets

    async def fetch_ticker(self, symbol: str) -> Any:
        self.calls += 1
        step = self.script.pop(0)
        if isinstance(step, tuple):
            exc, headers = step
            self.last_response_headers = headers
            raise exc
        if isinstance(step, Exception):
            raise step
        return step

    async def close(self) -> None:
        pass


def adapter(script: list[Any], **options: Any) -> tuple[CcxtMarketDataAdapter, ScriptedClient]:
    client = ScriptedClient(script)
    options.setdefault("retry_policy", RetryPolicy(attempts=3, base_delay_s=0, max_delay_s=0))
    result = CcxtMarketDataAdapter("scripted", client=client, **options)
    result.use_markets([])
    return result, client


async def test_transient_errors_are_retried() -> None:
    a, client = adapter([ccxt.ExchangeNotAvailable("503"), ccxt.RequestTimeout("t"), TICKER])
    ticker = await a.fetch_ticker("BTC/USDT")
    assert str(ticker.bid) == "1.5"
    assert client.calls == 3
    assert a.status().errors == 2


async def test_bad_requests_are_not_retried_and_do_not_trip_the_breaker() -> None:
    breaker = CircuitBreaker("scripted", failure_threshold=1)
    a, client = adapter([ccxt.BadRequest("limit")], breaker=breaker)
    with pytest.raises(BadRequest):
        await a.fetch_ticker("BTC/USDT")
    assert client.calls == 1
    assert not a.status().circuit_open


async def test_retry_after_blocks_the_next_call() -> None:
    limited = (ccxt.RateLimitExceeded("429"), {"Retry-After": "0.4"})
    a, client = adapter([limited, TICKER], retry_policy=RetryPolicy(attempts=1))
    with pytest.raises(RateLimited) as caught:
        await a.fetch_ticker("BTC/USDT")
    assert caught.value.retry_after_s == 0.4
    assert a.status().rate_limit_headroom == 0.0
    loop = asyncio.get_running_loop()
    started = loop.time()
    await a.fetch_ticker("BTC/USDT")
    assert loop.time() - started >= 0.3
    assert client.calls == 2


async def test_breaker_opens_then_a_probe_closes_it() -> None:
    breaker = CircuitBreaker("scripted", failure_threshold=2, cooldown_s=0.2)
    down = ccxt.ExchangeNotAvailable("down")
    a, client = adapter([down, down, TICKER], breaker=breaker)
    with pytest.raises(ExchangeError):
        await a.fetch_ticker("BTC/USDT")
    assert a.status().circuit_open
    with pytest.raises(CircuitOpen):
        await a.fetch_ticker("BTC/USDT")
    assert client.calls == 2  # refused without calling the venue
    await asyncio.sleep(0.25)
    assert not a.status().circuit_open  # half-open: one probe may go
    await a.fetch_ticker("BTC/USDT")
    assert breaker.consecutive_failures == 0


async def test_a_binary_float_is_refused_not_rounded() -> None:
    a, _ = adapter([{**TICKER, "bid": 0.1}])
    with pytest.raises(ExchangeError, match="unparseable"):
        await a.fetch_ticker("BTC/USDT")
    assert a.status().errors == 1


async def test_load_markets_asks_the_venue_again_once_loaded() -> None:
    """ccxt caches markets; the adapter's ``load_markets`` is what the venue lists now, so a
    symbol listed since start-up becomes known (the order book checks symbols with it)."""
    adapter = CcxtMarketDataAdapter("binance", client=new_client("binance"))
    asked: list[bool] = []
    listings: list[dict[str, Any]] = [{"BTC/USDT": {}}, {"BTC/USDT": {}, "NEW/USDT": {}}]

    async def load_markets(reload: bool = False) -> dict[str, Any]:
        asked.append(reload)
        return listings[len(asked) - 1]

    adapter.client.load_markets = load_markets
    assert await adapter.load_markets() == ["BTC/USDT"]
    assert await adapter.load_markets() == ["BTC/USDT", "NEW/USDT"]
    assert asked == [False, True]
    await adapter.close()
