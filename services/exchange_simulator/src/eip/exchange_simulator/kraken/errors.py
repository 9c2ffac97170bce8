"""Kraken's errors: ``"<severity><category>:<message>"`` strings in the ``error`` array of a
``{"error": [...], "result": ...}`` body, sent with HTTP 200 (only an injected 5xx fault gets
another status). One closed vocabulary here; the endpoints raise these, never free text.
"""

from __future__ import annotations

from eip.exchange_simulator.core.orders import Rejection


class KrakenError(Exception):
    """A request Kraken refuses; ``str(error)`` is the wire text."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.text = text


INVALID_KEY = "EAPI:Invalid key"
INVALID_SIGNATURE = "EAPI:Invalid signature"
INVALID_NONCE = "EAPI:Invalid nonce"
RATE_LIMIT = "EAPI:Rate limit exceeded"
ORDER_RATE_LIMIT = "EOrder:Rate limit exceeded"
ORDERS_LIMIT = "EOrder:Orders limit exceeded"
PERMISSION_DENIED = "EGeneral:Permission denied"
INVALID_ARGUMENTS = "EGeneral:Invalid arguments"
UNKNOWN_PAIR = "EQuery:Unknown asset pair"
UNKNOWN_ORDER = "EOrder:Unknown order"
INVALID_ORDER = "EOrder:Invalid order"
INSUFFICIENT_FUNDS = "EOrder:Insufficient funds"
ORDER_MINIMUM = "EOrder:Order minimum not met"
COST_MINIMUM = "EOrder:Cost minimum not met"
TICK_SIZE = "EOrder:Tick size check failed"
INVALID_PRICE = "EOrder:Invalid price"
POST_ONLY = "EOrder:Post only order"
CANCEL_ONLY = "EService:Market in cancel_only mode"
UNAVAILABLE = "EService:Unavailable"
INTERNAL = "EGeneral:Internal error"
INVALID_SESSION = "ESession:Invalid session"


def invalid(argument: str) -> KrakenError:
    return KrakenError(f"{INVALID_ARGUMENTS}:{argument}")


def from_rejection(rejection: Rejection) -> KrakenError:
    """The core's reasons in Kraken's words. Filter failures are mostly caught before the core
    with Kraken's own checks (order_params.parse_new_order); these are the fallbacks."""
    reason = rejection.reason
    if reason == "insufficient_balance":
        return KrakenError(INSUFFICIENT_FUNDS)
    if reason == "market_closed":
        return KrakenError(CANCEL_ONLY)
    if reason == "unknown_order":
        return KrakenError(UNKNOWN_ORDER)
    if reason == "unknown_symbol":
        return KrakenError(UNKNOWN_PAIR)
    if reason == "duplicate":
        return invalid("cl_ord_id already in use")
    if reason == "would_match":
        return KrakenError(POST_ONLY)
    if reason == "would_trigger":
        return KrakenError(f"{INVALID_PRICE}:trigger price would trigger immediately")
    if reason == "quantity_below_executed":
        return invalid("order_qty")
    if reason == "invalid_amend":
        return invalid(rejection.message)
    if reason == "filter":
        return {
            "PRICE_FILTER": KrakenError(TICK_SIZE),
            "LOT_SIZE": invalid("volume"),
            "NOTIONAL": KrakenError(COST_MINIMUM),
        }.get(rejection.message, KrakenError(INVALID_ORDER))
    return KrakenError(f"{INVALID_ORDER}:{rejection.message}")
