"""Coinbase Advanced Trade REST on the shared loop: Coinbase's error shapes kept for the
trading adapter to map.

Three answers are not a 200 body the caller can use: ``401`` with a bare ``Unauthorized``
body (Coinbase's gateway refusing the JWT: ``CredentialRejected``), ``429`` (``RateLimited``
with ``Retry-After`` when given) and ``{"error", "error_details", "message"}`` with a 4xx
(``CoinbaseApiError``, which keeps the gRPC-style ``error`` name: ``PERMISSION_DENIED``,
``NOT_FOUND``, ``INVALID_ARGUMENT``, ...). A 5xx is transient, and ``OutcomeUnknown`` on a
placement (the shared loop decides that).
"""

from __future__ import annotations

from typing import Any

import httpx
import orjson

from eip.exchanges.contract.errors import (
    BadRequest,
    CredentialRejected,
    ExchangeError,
    RateLimited,
    TransientExchangeError,
)
from eip.exchanges.machinery.venue_rest import VenueRest, retry_after_seconds

EXCHANGE = "coinbase"


class CoinbaseApiError(BadRequest):
    """Coinbase refused the request: HTTP ``status`` and the body's ``error`` and ``message``
    (``error`` empty when the body was not Coinbase's, e.g. a 404 of an unknown endpoint)."""

    def __init__(self, text: str, status: int, error: str, message: str) -> None:
        super().__init__(EXCHANGE, text)
        self.status = status
        self.error = error
        self.message = message


class CoinbaseRest(VenueRest):
    exchange = EXCHANGE

    async def _acquire(self, path: str) -> None:
        """No client-side budget: Coinbase answers 429 when over its limits."""

    def _observe(self, headers: httpx.Headers) -> None:
        """Coinbase sends no usage headers to follow."""

    def _decode(self, path: str, content: bytes) -> Any:
        return orjson.loads(content)

    def _error(self, path: str, response: httpx.Response) -> ExchangeError:
        status = response.status_code
        error, message = error_body(response.content)
        text = f"{response.request.method} {path}: HTTP {status} {error} {message}".rstrip()
        if status == 401:
            why = response.headers.get("WWW-Authenticate", "")
            return CredentialRejected(EXCHANGE, f"{text} {why}".rstrip())
        if status == 429:
            retry = retry_after_seconds(response.headers.get("Retry-After"))
            return RateLimited(EXCHANGE, text, retry)
        if status >= 500 or status == 408:
            return TransientExchangeError(EXCHANGE, text)
        return CoinbaseApiError(text, status, error, message)


def error_body(content: bytes) -> tuple[str, str]:
    """(error, message) of a Coinbase error body (Advanced Trade's ``{"error", "message"}``,
    or the Coinbase App API's ``{"errors": [{"id", "message"}]}`` under ``/v2``); ("", the
    text) when it is not one."""
    try:
        body = orjson.loads(content)
    except orjson.JSONDecodeError:
        return "", content[:200].decode(errors="replace")
    if isinstance(body, dict):
        errors = body.get("errors")
        if "error" not in body and isinstance(errors, list) and errors:  # the /v2 shape
            first = errors[0] if isinstance(errors[0], dict) else {}
            return str(first.get("id", "")), str(first.get("message", ""))
        return str(body.get("error", "")), str(body.get("message", ""))
    return "", str(body)[:200]
