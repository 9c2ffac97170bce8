"""ccxt's exceptions on private calls → the trading contract's closed error set.

ccxt already sorts each venue's codes into its exception tree (``InsufficientFunds``,
``InvalidOrder``, ``OrderNotFound``, ...); this maps that tree, then refines the broad
``InvalidOrder`` by the venue's own code where the venue profile names it (price, lot and
notional filters all arrive as ``InvalidOrder``). The code is read from the venue's body that
ccxt puts in the exception's message (``"<id> <body>"``), never from shared client state,
since calls run concurrently.

The outcome rule: a placement that failed **after the request left** — read time-out, reset,
5xx, an answer that is no answer — is ``OutcomeUnknown``; one that could not leave (DNS,
connection refused, connect time-out: ccxt chains aiohttp's connector errors as the cause) is
transient, not placed. ccxt's unclassified ``ExchangeError`` on a placement is unknown too:
it may be a 5xx with a body, not a refusal. A refusal for load on a placement was refused
before matching: ``OrderRejected(rate_limited)``, not placed.

Ordering matters: ccxt's ``OrderNotFound`` is an ``InvalidOrder``, ``PermissionDenied`` and
``AccountSuspended`` are ``AuthenticationError``\\ s, ``RateLimitExceeded`` and ``RequestTimeout``
are ``NetworkError``\\ s; the most specific class is checked first.
"""

from __future__ import annotations

import json
import socket
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp
import ccxt

from eip.exchanges.ccxt.errors import map_ccxt_error, retry_after_s
from eip.exchanges.contract.errors import (
    BadRequest,
    CredentialRejected,
    ExchangeError,
    NotSupported,
    OrderNotFound,
    OrderRejected,
    OutcomeUnknown,
    RateLimited,
    RejectReason,
    TransientExchangeError,
    UnknownSymbol,
)

# A venue's error body → its own code (str), for the profile's table.
CodeReader = Callable[[Any], str | None]


def venue_body(exc: BaseException) -> Any:
    """The JSON body ccxt quoted in the exception's message, if any."""
    text = str(exc)
    starts = [i for i in (text.find("{"), text.find("[")) if i >= 0]
    if not starts:
        return None
    try:
        return json.loads(text[min(starts) :])
    except ValueError:
        return None


def _never_left(exc: BaseException) -> bool:
    cause = exc.__cause__
    connect_timeout = getattr(aiohttp, "ConnectionTimeoutError", None)
    return isinstance(cause, (socket.gaierror, aiohttp.ClientConnectorError)) or (
        connect_timeout is not None and isinstance(cause, connect_timeout)
    )


def map_trading_error(
    exchange: str,
    exc: BaseException,
    *,
    placement: bool = False,
    order_action: bool = False,
    codes: Mapping[str, RejectReason] | None = None,
    read_code: CodeReader | None = None,
    unknown_codes: frozenset[str] = frozenset(),
    messages: Mapping[str, RejectReason] | None = None,
    headers: Mapping[str, Any] | None = None,
) -> ExchangeError:
    """``placement``: the call created an order (never retried; outcome rules apply);
    ``order_action``: it placed, amended or cancelled one (refusals are ``OrderRejected``);
    ``unknown_codes``: venue codes that mean the venue does not know whether it placed;
    ``messages``: fragments of the venue's error text → reason, for venues whose codes say
    too little."""
    if isinstance(exc, ExchangeError):
        return exc
    text = f"{type(exc).__name__}: {exc}"[:500]
    code = read_code(venue_body(exc)) if read_code is not None else None
    refined = (codes or {}).get(code) if code is not None else None
    acting = placement or order_action
    if placement and code is not None and code in unknown_codes:
        # the venue itself says it lost track of the placement (Bybit 170146)
        return OutcomeUnknown(exchange, text)
    if acting and messages and isinstance(exc, ccxt.ExchangeError):
        # venues whose codes are too coarse (Bitfinex's 10001 is any error; ccxt calls it
        # PermissionDenied): the venue's text decides, first match in the table's order
        lowered = str(exc).lower()
        for fragment, reason in messages.items():
            if fragment.lower() in lowered:
                return OrderRejected(exchange, reason, text, venue_code=code)

    if isinstance(exc, (ccxt.RateLimitExceeded, ccxt.DDoSProtection)):
        after = retry_after_s(headers)
        if placement:
            return OrderRejected(
                exchange, RejectReason.RATE_LIMITED, text, venue_code=code, retry_after_s=after
            )
        return RateLimited(exchange, text, after)
    if isinstance(exc, ccxt.InvalidNonce):  # the venue refused the timestamp: nothing done
        return TransientExchangeError(exchange, text)
    if isinstance(exc, (ccxt.OrderNotFound, ccxt.OrderNotCached)):
        if refined is not None and acting:
            return OrderRejected(exchange, refined, text, venue_code=code)
        return OrderNotFound(exchange, text)
    if isinstance(exc, ccxt.PermissionDenied):
        if acting:
            return OrderRejected(exchange, RejectReason.PERMISSION_DENIED, text, venue_code=code)
        return CredentialRejected(exchange, text)
    if isinstance(exc, ccxt.AuthenticationError):  # bad key, signature, IP; suspended account
        return CredentialRejected(exchange, text)
    if isinstance(exc, ccxt.NetworkError):  # time-outs, resets, 5xx, maintenance
        if placement and not _never_left(exc):
            return OutcomeUnknown(exchange, text)
        return TransientExchangeError(exchange, text)
    if isinstance(exc, ccxt.NotSupported):
        return NotSupported(exchange, text)
    if placement and refined is None and type(exc) is ccxt.ExchangeError:
        # ccxt's catch-all: an error it could not classify (a 5xx some venues answer with a
        # body, an unknown code). It may not be a refusal, so the placement may exist.
        return OutcomeUnknown(exchange, text)
    if acting and isinstance(exc, ccxt.ExchangeError):
        return OrderRejected(exchange, refined or _reason(exc), text, venue_code=code)
    if isinstance(exc, ccxt.BadSymbol):
        return UnknownSymbol(exchange, text)
    if isinstance(exc, (ccxt.BadRequest, ccxt.ArgumentsRequired)):
        return BadRequest(exchange, text)
    if placement and isinstance(exc, (OSError, TimeoutError)):
        return OutcomeUnknown(exchange, text)
    return map_ccxt_error(exchange, exc, headers)


def _reason(exc: BaseException) -> RejectReason:
    if isinstance(exc, ccxt.InsufficientFunds):
        return RejectReason.INSUFFICIENT_FUNDS
    if isinstance(exc, ccxt.OrderImmediatelyFillable):
        return RejectReason.POST_ONLY_WOULD_TAKE
    if isinstance(exc, ccxt.DuplicateOrderId):
        return RejectReason.DUPLICATE_CLIENT_ORDER_ID
    if isinstance(exc, (ccxt.MarketClosed, ccxt.ContractUnavailable)):
        return RejectReason.MARKET_CLOSED
    if isinstance(exc, ccxt.BadSymbol):
        return RejectReason.UNKNOWN_SYMBOL
    if isinstance(exc, (ccxt.InvalidOrder, ccxt.BadRequest, ccxt.ArgumentsRequired)):
        return RejectReason.INVALID_ORDER
    return RejectReason.OTHER
