"""Binance REST GETs: the weight budget and Binance's error shapes on the shared loop."""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from eip.exchanges.binance.weights import WeightLimiter
from eip.exchanges.errors import (
    BadRequest,
    ExchangeError,
    RateLimited,
    TransientExchangeError,
    UnknownSymbol,
)
from eip.exchanges.health import StreamHealth
from eip.exchanges.venue_rest import VenueRest, retry_after_seconds
from eip.resilience import CircuitBreaker, RetryPolicy

EXCHANGE = "binance"
# -1121 Invalid symbol; -1100..-1130 are parameter errors
_UNKNOWN_SYMBOL_CODES = frozenset({-1121})


class BinanceRest(VenueRest):
    exchange = EXCHANGE

    def __init__(
        self,
        base_url: str,
        limiter: WeightLimiter,
        breaker: CircuitBreaker,
        health: StreamHealth,
        retry_policy: RetryPolicy,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        super().__init__(base_url, breaker, health, retry_policy, timeout_s, client)
        self.limiter = limiter

    async def _acquire(self, path: str) -> None:
        await self.limiter.acquire(path)

    def _observe(self, headers: httpx.Headers) -> None:
        self.limiter.observe(headers)

    def _decode(self, path: str, content: bytes) -> Any:
        return orjson.loads(content)

    def _error(self, path: str, response: httpx.Response) -> ExchangeError:
        status = response.status_code
        code, msg = _error_body(response.content)
        text = f"GET {path}: HTTP {status} {code} {msg}"
        if status in (418, 429):
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if retry_after is not None:
                self.limiter.block(retry_after)
            return RateLimited(EXCHANGE, text, retry_after)
        if status >= 500 or status == 408:
            return TransientExchangeError(EXCHANGE, text)
        if code in _UNKNOWN_SYMBOL_CODES:
            return UnknownSymbol(EXCHANGE, text)
        return BadRequest(EXCHANGE, text)


def _error_body(content: bytes) -> tuple[int | None, str]:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None, content[:200].decode(errors="replace")
    if isinstance(body, dict):
        code = body.get("code")
        return (code if isinstance(code, int) else None), str(body.get("msg", ""))
    return None, str(body)[:200]
