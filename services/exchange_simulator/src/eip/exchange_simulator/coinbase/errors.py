"""Coinbase's error shapes, and the core's refusals in Coinbase's words.

Three shapes, as Coinbase answers:

- Advanced Trade (``/api/v3``): HTTP 4xx/5xx with ``{"error", "error_details", "message"}``, the
  error a gRPC status name (``INVALID_ARGUMENT``, ``NOT_FOUND``, ``PERMISSION_DENIED``, ...).
- The Coinbase App API (``/v2``): ``{"errors": [{"id", "message"}]}`` with lower-case ids.
- An order that cannot be placed is not an HTTP error: 200 with ``success: false`` and an
  ``error_response`` whose ``preview_failure_reason`` is what ccxt (4.5.90) turns into an
  exception class (``PREVIEW_INSUFFICIENT_FUND`` → InsufficientFunds, ...).

A request that fails authentication gets a bare ``401 Unauthorized`` body, as Coinbase's
gateway sends it (ccxt then raises AuthenticationError); the reason is in the
``WWW-Authenticate`` header and the simulator's log.
"""

from __future__ import annotations

from typing import Any, Literal

from eip.exchange_simulator.core.orders import Rejection

Api = Literal["v3", "v2"]

# gRPC status names -> the v2 API's lower-case ids.
_V2_IDS = {
    "INVALID_ARGUMENT": "invalid_request",
    "NOT_FOUND": "not_found",
    "PERMISSION_DENIED": "invalid_scope",
    "INTERNAL": "internal_server_error",
    "UNAVAILABLE": "internal_server_error",
}


class CoinbaseError(Exception):
    def __init__(self, status: int, error: str, message: str, details: str | None = None):
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.details = message if details is None else details

    def body(self, api: Api = "v3") -> dict[str, Any]:
        if api == "v2":
            return {
                "errors": [
                    {"id": _V2_IDS.get(self.error, "invalid_request"), "message": self.message}
                ]
            }
        return {"error": self.error, "error_details": self.details, "message": self.message}


def invalid(message: str) -> CoinbaseError:
    return CoinbaseError(400, "INVALID_ARGUMENT", message)


def not_found(message: str) -> CoinbaseError:
    return CoinbaseError(404, "NOT_FOUND", message)


def permission_denied() -> CoinbaseError:
    return CoinbaseError(403, "PERMISSION_DENIED", "Missing required scopes")


ORDER_NOT_FOUND = "order with this orderID was not found"


class OrderFailure(Exception):
    """Why an order was not placed, as ``error_response`` carries it."""

    def __init__(self, error: str, preview_failure_reason: str, message: str) -> None:
        super().__init__(message)
        self.error = error
        self.preview_failure_reason = preview_failure_reason
        self.message = message

    def error_response(self) -> dict[str, str]:
        return {
            "error": self.error,
            "message": self.message,
            "error_details": self.message,
            "preview_failure_reason": self.preview_failure_reason,
            "new_order_failure_reason": self.error,
        }


UNKNOWN_PREVIEW = "UNKNOWN_PREVIEW_FAILURE_REASON"
UNKNOWN_FAILURE = "UNKNOWN_FAILURE_REASON"


def insufficient_fund() -> OrderFailure:
    return OrderFailure(
        "INSUFFICIENT_FUND", "PREVIEW_INSUFFICIENT_FUND", "Insufficient balance in source account"
    )


def post_only_would_take() -> OrderFailure:
    return OrderFailure(
        "INVALID_LIMIT_PRICE_POST_ONLY",
        "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY",
        "Post only order would cross the book and take liquidity",
    )


def unknown_product() -> OrderFailure:
    return OrderFailure("INVALID_PRODUCT_ID", UNKNOWN_PREVIEW, "ProductID is invalid")


def unsupported(message: str) -> OrderFailure:
    return OrderFailure("UNSUPPORTED_ORDER_CONFIGURATION", UNKNOWN_PREVIEW, message)


def preview(reason: str, message: str, error: str = UNKNOWN_FAILURE) -> OrderFailure:
    return OrderFailure(error, reason, message)


def from_rejection(exc: Rejection, stop_up: bool | None = None) -> OrderFailure:
    """The core's refusal as Coinbase reports it. ``stop_up``: a stop's direction, to name the
    side of the last trade price a stop that would trigger at once is on."""
    if exc.reason == "insufficient_balance":
        return insufficient_fund()
    if exc.reason == "would_match":
        return post_only_would_take()
    if exc.reason == "market_closed":
        return OrderFailure(
            "ORDER_ENTRY_DISABLED", UNKNOWN_PREVIEW, "Order entry is disabled for this product"
        )
    if exc.reason == "unknown_symbol":
        return unknown_product()
    if exc.reason == "would_trigger":
        if stop_up:
            return preview(
                "PREVIEW_STOP_PRICE_BELOW_LAST_TRADE_PRICE",
                "Stop price must be above the last trade price for a stop-up order",
            )
        return preview(
            "PREVIEW_STOP_PRICE_ABOVE_LAST_TRADE_PRICE",
            "Stop price must be below the last trade price for a stop-down order",
        )
    if exc.reason == "filter" and exc.message == "PRICE_FILTER":
        return preview(
            "PREVIEW_INVALID_LIMIT_PRICE", "Limit price is out of range", "INVALID_LIMIT_PRICE"
        )
    if exc.reason == "filter" and exc.message == "NOTIONAL":
        return preview(UNKNOWN_PREVIEW, "Order value is outside the product's quote size limits")
    return preview(UNKNOWN_PREVIEW, exc.message)
