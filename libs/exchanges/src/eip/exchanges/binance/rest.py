"""Binance REST GETs with the weight budget, Binance's error shapes, retries and the breaker."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx
import orjson

from eip.exchanges.binance.weights import WeightLimiter
from eip.exchanges.errors import (
    BadRequest,
    CircuitOpen,
    ExchangeError,
    RateLimited,
    TransientExchangeError,
    UnknownSymbol,
)
from eip.exchanges.health import StreamHealth
from eip.resilience import CircuitBreaker, CircuitOpenError, RetryPolicy, retry_async

log = logging.getLogger(__name__)

EXCHANGE = "binance"
# -1121 Invalid symbol; -1100..-1130 are parameter errors
_UNKNOWN_SYMBOL_CODES = frozenset({-1121})


class BinanceRest:
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
        self.base_url = base_url.rstrip("/")
        self.limiter = limiter
        self.breaker = breaker
        self.health = health
        self.retry_policy = retry_policy
        self._http = client or httpx.AsyncClient(timeout=timeout_s)

    async def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """The decoded JSON body; ``eip.exchanges.errors`` on failure after retries."""

        async def attempt() -> Any:
            try:
                self.breaker.before_call()
            except CircuitOpenError as exc:
                raise CircuitOpen(EXCHANGE, exc.retry_after_s) from None
            try:
                body = await self._once(path, params)
            except TransientExchangeError as exc:
                self.breaker.record_failure()
                self.health.error("rest", str(exc))
                raise
            except ExchangeError:
                self.breaker.record_success()  # the venue answered; the request was wrong
                raise
            self.breaker.record_success()
            return body

        def on_retry(n: int, exc: BaseException, delay: float) -> None:
            log.warning(
                "binance REST retry",
                extra={"path": path, "attempt": n, "error": str(exc), "delay_s": round(delay, 3)},
            )

        return await retry_async(
            attempt,
            self.retry_policy,
            retry_on=(TransientExchangeError,),
            give_up_on=(CircuitOpen,),
            on_retry=on_retry,
        )

    async def _once(self, path: str, params: Mapping[str, str | int] | None) -> Any:
        await self.limiter.acquire(path)
        try:
            response = await self._http.get(self.base_url + path, params=dict(params or {}))
        except httpx.TimeoutException as exc:
            raise TransientExchangeError(EXCHANGE, f"GET {path}: timeout") from exc
        except httpx.HTTPError as exc:
            raise TransientExchangeError(EXCHANGE, f"GET {path}: {exc!r}") from exc
        self.limiter.observe(response.headers)
        status = response.status_code
        if status == 200:
            return orjson.loads(response.content)
        code, msg = _error_body(response.content)
        text = f"GET {path}: HTTP {status} {code} {msg}"
        if status in (418, 429):
            retry_after = _retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                self.limiter.block(retry_after)
            raise RateLimited(EXCHANGE, text, retry_after)
        if status >= 500 or status == 408:
            raise TransientExchangeError(EXCHANGE, text)
        if code in _UNKNOWN_SYMBOL_CODES:
            raise UnknownSymbol(EXCHANGE, text)
        raise BadRequest(EXCHANGE, text)

    async def aclose(self) -> None:
        await self._http.aclose()


def _error_body(content: bytes) -> tuple[int | None, str]:
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return None, content[:200].decode(errors="replace")
    if isinstance(body, dict):
        code = body.get("code")
        return (code if isinstance(code, int) else None), str(body.get("msg", ""))
    return None, str(body)[:200]


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
