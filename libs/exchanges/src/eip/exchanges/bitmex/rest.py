"""BitMEX REST GETs with the request budget, BitMEX's error shape, retries and the breaker."""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from eip.exchanges.bitmex.limits import RequestBudget
from eip.exchanges.bitmex.parse import EXCHANGE, loads
from eip.exchanges.errors import (
    BadRequest,
    CircuitOpen,
    ExchangeError,
    RateLimited,
    TransientExchangeError,
)
from eip.exchanges.health import StreamHealth
from eip.resilience import CircuitBreaker, CircuitOpenError, RetryPolicy, retry_async

log = logging.getLogger(__name__)


class BitmexRest:
    def __init__(
        self,
        base_url: str,
        budget: RequestBudget,
        breaker: CircuitBreaker,
        health: StreamHealth,
        retry_policy: RetryPolicy,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.budget = budget
        self.breaker = breaker
        self.health = health
        self.retry_policy = retry_policy
        self._http = client or httpx.AsyncClient(timeout=timeout_s)

    async def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """The decoded JSON body (numbers as Decimal); ``eip.exchanges.errors`` on failure."""

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
                "bitmex REST retry",
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
        await self.budget.acquire()
        try:
            response = await self._http.get(self.base_url + path, params=dict(params or {}))
        except httpx.TimeoutException as exc:
            raise TransientExchangeError(EXCHANGE, f"GET {path}: timeout") from exc
        except httpx.HTTPError as exc:
            raise TransientExchangeError(EXCHANGE, f"GET {path}: {exc!r}") from exc
        self.budget.observe(response.headers)
        status = response.status_code
        if status == 200:
            try:
                return loads(response.content)
            except ValueError as exc:
                raise TransientExchangeError(EXCHANGE, f"GET {path}: not JSON") from exc
        text = f"GET {path}: HTTP {status} {_error_message(response.content)}"
        if status == 429:
            retry_after = _retry_after(response.headers.get("Retry-After"))
            if retry_after is not None:
                self.budget.block(retry_after)
            raise RateLimited(EXCHANGE, text, retry_after)
        if status >= 500 or status == 408:  # 503 is BitMEX's "system overloaded"
            raise TransientExchangeError(EXCHANGE, text)
        raise BadRequest(EXCHANGE, text)

    async def aclose(self) -> None:
        await self._http.aclose()


def _error_message(content: bytes) -> str:
    """``{"error": {"message": ..., "name": ...}}``, or the start of whatever came instead."""
    try:
        body = loads(content)
    except ValueError:
        return content[:200].decode(errors="replace")
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return f"{error.get('name', '')}: {error.get('message', '')}"
    return str(body)[:200]


def _retry_after(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
