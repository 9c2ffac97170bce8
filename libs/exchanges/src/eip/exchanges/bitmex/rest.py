"""BitMEX REST: the request budget and BitMEX's error shape on the shared loop, for market data
(GETs) and trading (signed requests).

Errors: 4xx bodies are ``{"error": {"message", "name"}}`` (``BitmexApiError`` keeps both, the
message being BitMEX's only code); 429 is ``RateLimited`` with ``Retry-After`` (the budget waits
it out). A 503 whose message says the system is overloaded is BitMEX's load shedding: its
engine queue was full and the request was refused *before* it was queued, so it did nothing —
``Overloaded``, a ``RateLimited``, even for a placement (never ``OutcomeUnknown``). Any other
5xx, or a 503 without that message, may have been acted on.
"""

from __future__ import annotations

import time
from typing import Any

import httpx

from eip.exchanges.bitmex.limits import RequestBudget
from eip.exchanges.bitmex.wire import EXCHANGE, loads
from eip.exchanges.contract.errors import (
    BadRequest,
    ExchangeError,
    OutcomeUnknown,
    RateLimited,
    TransientExchangeError,
)
from eip.exchanges.machinery.health import StreamHealth
from eip.exchanges.machinery.venue_rest import (
    Params,
    PreparedRequest,
    VenueRest,
    retry_after_seconds,
)
from eip.resilience import CircuitBreaker, RetryPolicy

OVERLOADED = "overloaded"  # in the 503 message of load shedding ("The system is currently ...")
SHED_RETRY_S = 0.5  # BitMEX asks clients to wait at least 500 ms after a load-shedding 503


class BitmexApiError(BadRequest):
    """A 4xx BitMEX answered with its error body."""

    def __init__(self, status: int, name: str, message: str, text: str) -> None:
        super().__init__(EXCHANGE, text)
        self.status = status
        self.name = name
        self.message = message


class Overloaded(RateLimited):
    """Load shedding (503): refused before the engine queued it; nothing was done."""


class BitmexRest(VenueRest):
    """Bodies decode with numbers as Decimal."""

    exchange = EXCHANGE

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
        super().__init__(base_url, breaker, health, retry_policy, timeout_s, client)
        self.budget = budget

    async def _acquire(self, path: str) -> None:
        await self.budget.acquire()

    def _observe(self, headers: httpx.Headers) -> None:
        self.budget.observe(headers)

    def _decode(self, path: str, content: bytes) -> Any:
        try:
            return loads(content)
        except ValueError as exc:
            raise TransientExchangeError(EXCHANGE, f"{path}: not JSON") from exc

    def _error(self, path: str, response: httpx.Response) -> ExchangeError:
        status = response.status_code
        name, message = error_body(response.content)
        text = f"{path}: HTTP {status} {name}: {message}"
        if status == 429:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if retry_after is None:
                reset = response.headers.get("x-ratelimit-reset")
                if reset is not None and reset.isdigit():
                    retry_after = max(0.0, float(reset) - time.time())
            if retry_after is not None:
                self.budget.block(retry_after)
            return RateLimited(EXCHANGE, text, retry_after)
        if status == 503 and OVERLOADED in message.lower():
            return Overloaded(EXCHANGE, text, SHED_RETRY_S)
        if status >= 500 or status == 408:
            return TransientExchangeError(EXCHANGE, text)
        return BitmexApiError(status, name, message, text)

    async def _once(
        self,
        method: str,
        path: str,
        params: Params,
        prepared: PreparedRequest | None,
        once: bool,
    ) -> Any:
        try:
            return await super()._once(method, path, params, prepared, once)
        except OutcomeUnknown as exc:
            # load shedding refused it unqueued: not an unknown outcome
            if isinstance(exc.__cause__, Overloaded):
                raise exc.__cause__ from None
            raise


def error_body(content: bytes) -> tuple[str, str]:
    """(name, message) of ``{"error": {"message": ..., "name": ...}}``, or of whatever came."""
    try:
        body = loads(content)
    except ValueError:
        return "", content[:200].decode(errors="replace")
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(error, dict):
        return str(error.get("name", "")), str(error.get("message", ""))
    return "", str(body)[:200]
