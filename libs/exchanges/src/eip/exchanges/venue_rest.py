"""The REST GET loop every native adapter shares: rate-limit wait, breaker, retries.

A venue supplies its limiter hooks and how it reads a 200 body and an error response.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import httpx

from eip.exchanges.errors import CircuitOpen, ExchangeError, TransientExchangeError
from eip.exchanges.health import StreamHealth
from eip.resilience import CircuitBreaker, CircuitOpenError, RetryPolicy, retry_async

log = logging.getLogger(__name__)


class VenueRest:
    """Subclasses set ``exchange`` and implement the four hooks below."""

    exchange: str

    def __init__(
        self,
        base_url: str,
        breaker: CircuitBreaker,
        health: StreamHealth,
        retry_policy: RetryPolicy,
        timeout_s: float = 10.0,
        client: httpx.AsyncClient | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.breaker = breaker
        self.health = health
        self.retry_policy = retry_policy
        self._http = client or httpx.AsyncClient(timeout=timeout_s)

    async def _acquire(self, path: str) -> None:
        raise NotImplementedError

    def _observe(self, headers: httpx.Headers) -> None:
        raise NotImplementedError

    def _decode(self, path: str, content: bytes) -> Any:
        """The body of a 200 answer."""
        raise NotImplementedError

    def _error(self, path: str, response: httpx.Response) -> ExchangeError:
        """The error a non-200 answer stands for (the venue's own codes, Retry-After)."""
        raise NotImplementedError

    async def get(self, path: str, params: Mapping[str, str | int] | None = None) -> Any:
        """The decoded JSON body; ``eip.exchanges.errors`` on failure after retries."""

        async def attempt() -> Any:
            try:
                self.breaker.before_call()
            except CircuitOpenError as exc:
                raise CircuitOpen(self.exchange, exc.retry_after_s) from None
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
                "%s REST retry",
                self.exchange,
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
        await self._acquire(path)
        try:
            response = await self._http.get(self.base_url + path, params=dict(params or {}))
        except httpx.TimeoutException as exc:
            raise TransientExchangeError(self.exchange, f"GET {path}: timeout") from exc
        except httpx.HTTPError as exc:
            raise TransientExchangeError(self.exchange, f"GET {path}: {exc!r}") from exc
        self._observe(response.headers)
        if response.status_code == 200:
            return self._decode(path, response.content)
        raise self._error(path, response)

    async def aclose(self) -> None:
        await self._http.aclose()


def retry_after_seconds(value: str | None) -> float | None:
    """A Retry-After header in seconds; None when absent or not a number."""
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
