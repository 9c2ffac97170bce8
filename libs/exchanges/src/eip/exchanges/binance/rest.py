"""Binance REST: the weight budget and Binance's error shapes on the shared loop.

Every refusal keeps Binance's own ``code`` and ``msg`` (``BinanceApiError``) so the trading
adapter can map it to the platform's vocabulary; a timestamp refusal (-1021) is a
``ClockRejected``, transient once the clock offset is measured again.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import orjson

from eip.exchanges.binance.weights import WeightLimiter, weight_of
from eip.exchanges.contract.errors import (
    BadRequest,
    ExchangeError,
    RateLimited,
    TransientExchangeError,
    UnknownSymbol,
)
from eip.exchanges.machinery.health import StreamHealth
from eip.exchanges.machinery.venue_rest import Params, VenueRest, retry_after_seconds
from eip.resilience import CircuitBreaker, RetryPolicy

EXCHANGE = "binance"
# -1121 Invalid symbol; -1100..-1130 are parameter errors
_UNKNOWN_SYMBOL_CODES = frozenset({-1121})
TIMESTAMP_REJECTED = -1021


class BinanceApiError(BadRequest):
    """Binance refused the request: ``status`` (HTTP), ``code`` and ``msg`` as it sent them
    (``code`` None when the answer was no Binance error, e.g. a 404 for an unknown endpoint)."""

    def __init__(self, text: str, status: int, code: int | None, msg: str) -> None:
        super().__init__(EXCHANGE, text)
        self.status = status
        self.code = code
        self.msg = msg


class ClockRejected(TransientExchangeError):
    """-1021: the request's timestamp fell outside the venue's window; the clock offset is
    measured again before the next signed request."""


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
        self.on_clock_rejected: Callable[[], None] | None = None

    async def _acquire(self, path: str) -> None:
        await self.limiter.acquire(path)

    async def _acquire_for(self, method: str, path: str, params: Params) -> None:
        await self.limiter.acquire(path, weight_of(method, path, params))

    def _observe(self, headers: httpx.Headers) -> None:
        self.limiter.observe(headers)

    def _decode(self, path: str, content: bytes) -> Any:
        return orjson.loads(content)

    def _error(self, path: str, response: httpx.Response) -> ExchangeError:
        status = response.status_code
        code, msg = _error_body(response.content)
        text = f"{response.request.method} {path}: HTTP {status} {code} {msg}"
        if status in (418, 429) and code != -1015:  # -1015 is the order rate: a rejection
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if retry_after is not None:
                self.limiter.block(retry_after)
            return RateLimited(EXCHANGE, text, retry_after)
        if status >= 500 or status == 408:
            return TransientExchangeError(EXCHANGE, text)
        if code == TIMESTAMP_REJECTED:
            if self.on_clock_rejected is not None:
                self.on_clock_rejected()
            return ClockRejected(EXCHANGE, text)
        if code in _UNKNOWN_SYMBOL_CODES:
            return UnknownSymbol(EXCHANGE, text)
        return BinanceApiError(text, status, code, msg)


def _error_body(content: bytes) -> tuple[int | None, str]:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None, content[:200].decode(errors="replace")
    if isinstance(body, dict):
        code = body.get("code")
        return (code if isinstance(code, int) else None), str(body.get("msg", ""))
    return None, str(body)[:200]
