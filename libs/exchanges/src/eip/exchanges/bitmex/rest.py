"""BitMEX REST GETs: the request budget and BitMEX's error shape on the shared loop."""

from __future__ import annotations

from typing import Any

import httpx

from eip.exchanges.bitmex.limits import RequestBudget
from eip.exchanges.bitmex.wire import EXCHANGE, loads
from eip.exchanges.contract.errors import (
    BadRequest,
    ExchangeError,
    RateLimited,
    TransientExchangeError,
)
from eip.exchanges.machinery.health import StreamHealth
from eip.exchanges.machinery.venue_rest import VenueRest, retry_after_seconds
from eip.resilience import CircuitBreaker, RetryPolicy


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
            raise TransientExchangeError(EXCHANGE, f"GET {path}: not JSON") from exc

    def _error(self, path: str, response: httpx.Response) -> ExchangeError:
        status = response.status_code
        text = f"GET {path}: HTTP {status} {_error_message(response.content)}"
        if status == 429:
            retry_after = retry_after_seconds(response.headers.get("Retry-After"))
            if retry_after is not None:
                self.budget.block(retry_after)
            return RateLimited(EXCHANGE, text, retry_after)
        if status >= 500 or status == 408:  # 503 is BitMEX's "system overloaded"
            return TransientExchangeError(EXCHANGE, text)
        return BadRequest(EXCHANGE, text)


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
