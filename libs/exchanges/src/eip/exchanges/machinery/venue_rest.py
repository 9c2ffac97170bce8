"""The REST loop every native adapter shares: rate-limit wait, breaker, retries.

A venue supplies its limiter hooks and how it reads a 200 body and an error response.

Reads are retried by the one retry policy. A request sent ``once`` (an order placement) is
never retried, and a failure after it may have left — a time-out waiting for the answer, a
connection reset, a 5xx — is ``OutcomeUnknown``: the venue may have acted on it. Only a failure
to connect at all proves it never left. A signed request is prepared (signed) afresh for every
attempt, before the breaker is asked: a signer's outage is not the venue's.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import httpx

from eip.exchanges.contract.errors import (
    CircuitOpen,
    ExchangeError,
    OutcomeUnknown,
    TransientExchangeError,
)
from eip.exchanges.machinery.health import StreamHealth
from eip.resilience import CircuitBreaker, CircuitOpenError, RetryPolicy, retry_async

log = logging.getLogger(__name__)

Params = Mapping[str, str | int]

# Failures before a single byte of the request can have reached the venue.
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


@dataclass(frozen=True, slots=True)
class PreparedRequest:
    """A request as it goes on the wire: the encoded query string, the headers and, for venues
    that sign a POST body (Kraken; Coinbase's JSON), the body exactly as signed."""

    query: str
    headers: Mapping[str, str] = field(default_factory=dict)
    body: str | None = None


Prepare = Callable[[str, str, Params], Awaitable[PreparedRequest]]  # method, path, params


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

    async def _acquire_for(self, method: str, path: str, params: Params) -> None:
        """The rate-limit wait of one request; by default by path alone."""
        await self._acquire(path)

    def _observe(self, headers: httpx.Headers) -> None:
        raise NotImplementedError

    def _decode(self, path: str, content: bytes) -> Any:
        """The body of a 200 answer."""
        raise NotImplementedError

    def _error(self, path: str, response: httpx.Response) -> ExchangeError:
        """The error a non-200 answer stands for (the venue's own codes, Retry-After)."""
        raise NotImplementedError

    async def get(self, path: str, params: Params | None = None) -> Any:
        """The decoded JSON body; ``eip.exchanges.contract.errors`` on failure after retries."""
        return await self.request("GET", path, params)

    async def request(
        self,
        method: str,
        path: str,
        params: Params | None = None,
        *,
        prepare: Prepare | None = None,
        once: bool = False,
    ) -> Any:
        """The decoded JSON body. ``prepare`` signs each attempt; ``once`` sends a request that
        must not be repeated (a placement): no retry, ``OutcomeUnknown`` when the answer is lost.
        """
        given: Params = params or {}

        async def attempt() -> Any:
            prepared = await prepare(method, path, given) if prepare is not None else None
            try:
                self.breaker.before_call()
            except CircuitOpenError as exc:
                raise CircuitOpen(self.exchange, exc.retry_after_s) from None
            try:
                body = await self._once(method, path, given, prepared, once)
            except TransientExchangeError as exc:
                self.breaker.record_failure()
                self.health.error("rest", str(exc))
                raise
            except ExchangeError:
                self.breaker.record_success()  # the venue answered; the request was wrong
                raise
            except BaseException:
                # Cancelled (a catch-up whose sibling request failed) or anything unforeseen:
                # a half-open breaker's probe must not stay taken, or REST stays refused for
                # good (seen: a Binance catch-up failing for minutes after the venue was back).
                self.breaker.record_no_verdict()
                raise
            self.breaker.record_success()
            return body

        if once:
            return await attempt()

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

    async def _once(
        self,
        method: str,
        path: str,
        params: Params,
        prepared: PreparedRequest | None,
        once: bool,
    ) -> Any:
        await self._acquire_for(method, path, params)
        url = self.base_url + path
        try:
            if prepared is None:
                response = await self._http.request(method, url, params=dict(params))
            else:
                target = f"{url}?{prepared.query}" if prepared.query else url
                response = await self._http.request(
                    method, target, headers=dict(prepared.headers), content=prepared.body
                )
        except _NEVER_SENT as exc:
            raise TransientExchangeError(self.exchange, f"{method} {path}: {exc!r}") from exc
        except httpx.HTTPError as exc:
            # Sent, or partly: whatever the venue did with it, no answer says so.
            if once:
                raise OutcomeUnknown(
                    self.exchange, f"{method} {path}: no answer ({type(exc).__name__})"
                ) from exc
            if isinstance(exc, httpx.TimeoutException):
                raise TransientExchangeError(self.exchange, f"{method} {path}: timeout") from exc
            raise TransientExchangeError(self.exchange, f"{method} {path}: {exc!r}") from exc
        self._observe(response.headers)
        if response.status_code == 200:
            return self._decode(path, response.content)
        error = self._error(path, response)
        if once and (response.status_code >= 500 or response.status_code == 408):
            # The venue failed after taking the request: it may have acted on it.
            raise OutcomeUnknown(self.exchange, str(error).partition(": ")[2]) from error
        raise error

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
