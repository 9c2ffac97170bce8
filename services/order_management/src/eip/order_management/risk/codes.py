"""Pre-trade risk's vocabulary: every denial has one of these codes (callers branch on the code,
never on the message) and a message a person can act on. docs/ORDER_MANAGEMENT.md lists them."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum


class DenialCode(StrEnum):
    # the instrument, by the venue's rules
    UNKNOWN_INSTRUMENT = "unknown_instrument"
    MARKET_CLOSED = "market_closed"
    ORDER_TYPE_UNSUPPORTED = "order_type_unsupported"
    TIME_IN_FORCE_UNSUPPORTED = "time_in_force_unsupported"
    PRICE_TICK = "price_tick"
    QUANTITY_STEP = "quantity_step"
    QUANTITY_BELOW_MIN = "quantity_below_min"
    QUANTITY_ABOVE_MAX = "quantity_above_max"
    NOTIONAL_BELOW_MIN = "notional_below_min"
    NOTIONAL_ABOVE_MAX = "notional_above_max"
    # the price, against the market
    PRICE_BAND = "price_band"
    REFERENCE_STALE = "reference_stale"
    SLIPPAGE = "slippage"
    SLIPPAGE_UNAVAILABLE = "slippage_unavailable"
    # the account's key and money
    NO_CREDENTIAL = "no_credential"
    INSUFFICIENT_BALANCE = "insufficient_balance"
    BALANCE_UNAVAILABLE = "balance_unavailable"
    # the account's limits
    MAX_ORDER_NOTIONAL = "max_order_notional"
    MAX_ORDER_QUANTITY = "max_order_quantity"
    MAX_OPEN_ORDERS = "max_open_orders"
    ORDER_RATE = "order_rate"
    DAILY_NOTIONAL = "daily_notional"
    DAILY_LOSS = "daily_loss"
    # kill switch and anomaly guard
    HALTED = "halted"
    REDUCING_ONLY = "reducing_only"
    ANOMALY = "anomaly"


class Denied(Exception):
    """Pre-trade risk refused the order; nothing is sent."""

    def __init__(self, code: DenialCode, message: str, details: Mapping[str, object] | None = None):
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = {str(k): str(v) for k, v in (details or {}).items()}
