"""The exceptions adapters raise, instead of venue or library exceptions: a closed vocabulary.

Services decide on the class (and for rejections the ``RejectReason``) alone, never on message
text: ``TransientExchangeError`` (and its subclasses) is worth retrying later, ``BadRequest`` and
``UnknownSymbol`` are the caller's mistake and never are. For trading, ``OutcomeUnknown`` is the
one that matters most: the request left and no answer came, so the order may exist — the caller
looks it up by client order id and never sends it again blindly.
"""

from __future__ import annotations

from enum import StrEnum


class ExchangeError(Exception):
    """Base of every adapter error; ``exchange`` is the ccxt id."""

    def __init__(self, exchange: str, message: str) -> None:
        super().__init__(f"{exchange}: {message}")
        self.exchange = exchange


class TransientExchangeError(ExchangeError):
    """Network trouble, timeouts, 5xx, maintenance: the same call may work later."""


class RateLimited(TransientExchangeError):
    """The venue refused for load (429/418, ccxt RateLimitExceeded/DDoSProtection)."""

    def __init__(self, exchange: str, message: str, retry_after_s: float | None = None) -> None:
        super().__init__(exchange, message)
        self.retry_after_s = retry_after_s


class CircuitOpen(TransientExchangeError):
    """The exchange's circuit breaker refuses calls until its cool-down ends."""

    def __init__(self, exchange: str, retry_after_s: float) -> None:
        super().__init__(exchange, f"circuit open, next probe in {retry_after_s:.1f}s")
        self.retry_after_s = retry_after_s


class BadRequest(ExchangeError):
    """The venue rejected the parameters (bad timeframe, limit, time range, ...)."""


class UnknownSymbol(BadRequest):
    """The symbol is not listed on the venue."""


class UnknownExchange(ValueError):
    """No adapter exists for this exchange id."""


# -- trading -------------------------------------------------------------------------------------


class RejectReason(StrEnum):
    """Why a venue refused an order, amendment or cancel; each one a caller can act on."""

    INSUFFICIENT_FUNDS = "insufficient_funds"
    PRICE_FILTER = "price_filter"  # off tick, outside the allowed band or price limits
    LOT_SIZE = "lot_size"  # off step, below min / above max quantity
    MIN_NOTIONAL = "min_notional"  # price x quantity below the venue's minimum (or above max)
    MARKET_CLOSED = "market_closed"  # halted, delisted, in maintenance, cancel-only
    POST_ONLY_WOULD_TAKE = "post_only_would_take"
    DUPLICATE_CLIENT_ORDER_ID = "duplicate_client_order_id"
    RATE_LIMITED = "rate_limited"  # order-rate limits (see ``retry_after_s``)
    PERMISSION_DENIED = "permission_denied"  # the key may not trade (or not this instrument)
    UNKNOWN_SYMBOL = "unknown_symbol"
    ORDER_NOT_AMENDABLE = "order_not_amendable"  # closed, or the change is not allowed
    INVALID_ORDER = "invalid_order"  # parameters the venue refuses for another reason
    SELF_TRADE = "self_trade"
    OTHER = "other"


class OrderRejected(ExchangeError):
    """The venue answered and refused: nothing was created or changed. ``venue_code`` is the
    venue's own code or text, kept for the audit trail and for adding mappings."""

    def __init__(
        self,
        exchange: str,
        reason: RejectReason,
        message: str,
        *,
        venue_code: str | None = None,
        retry_after_s: float | None = None,
    ) -> None:
        super().__init__(exchange, f"{reason.value}: {message}")
        self.reason = reason
        self.venue_code = venue_code
        self.retry_after_s = retry_after_s


class OrderNotFound(ExchangeError):
    """The venue does not know the order (by the id asked for)."""


class OutcomeUnknown(TransientExchangeError):
    """The request left and no usable answer came back (timeout, reset, 5xx after sending):
    the order may or may not exist. Query by client order id; never resend blindly."""


class NotSupported(ExchangeError):
    """The venue (or this adapter) does not offer the operation natively."""


class CredentialRejected(ExchangeError):
    """The key itself is refused — by the venue (unknown, revoked, expired, wrong signature, IP
    not allowed) or by the auth service that signs for it (revoked there, not this caller's
    account). Nothing was sent to the venue for an order; retrying with the same key will not
    help. A working key that lacks the permission for one action is an ``OrderRejected`` with
    ``PERMISSION_DENIED`` instead."""
