"""Orders as the core sees them, in the exchange-neutral vocabulary the dialects translate."""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

ZERO = Decimal(0)


class Side(StrEnum):
    BUY = "BUY"
    SELL = "SELL"


class OrderType(StrEnum):
    LIMIT = "LIMIT"
    MARKET = "MARKET"
    STOP_LOSS = "STOP_LOSS"
    STOP_LOSS_LIMIT = "STOP_LOSS_LIMIT"
    TAKE_PROFIT = "TAKE_PROFIT"
    TAKE_PROFIT_LIMIT = "TAKE_PROFIT_LIMIT"
    LIMIT_MAKER = "LIMIT_MAKER"

    @property
    def is_conditional(self) -> bool:
        return self in _CONDITIONAL

    @property
    def has_limit_price(self) -> bool:
        return self in _LIMIT_PRICED

    @property
    def triggered_type(self) -> OrderType:
        """What a stop or take-profit order becomes when it triggers."""
        return OrderType.LIMIT if self.has_limit_price else OrderType.MARKET


_CONDITIONAL = {
    OrderType.STOP_LOSS,
    OrderType.STOP_LOSS_LIMIT,
    OrderType.TAKE_PROFIT,
    OrderType.TAKE_PROFIT_LIMIT,
}
_LIMIT_PRICED = {
    OrderType.LIMIT,
    OrderType.STOP_LOSS_LIMIT,
    OrderType.TAKE_PROFIT_LIMIT,
    OrderType.LIMIT_MAKER,
}


class TimeInForce(StrEnum):
    GTC = "GTC"
    IOC = "IOC"
    FOK = "FOK"


class OrderStatus(StrEnum):
    NEW = "NEW"
    PARTIALLY_FILLED = "PARTIALLY_FILLED"
    FILLED = "FILLED"
    CANCELED = "CANCELED"
    REJECTED = "REJECTED"
    EXPIRED = "EXPIRED"

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class ExecType(StrEnum):
    NEW = "NEW"
    TRADE = "TRADE"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REPLACED = "REPLACED"


class Rejection(Exception):
    """The engine refused an order; ``reason`` is a stable machine name the dialects map."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


@dataclass
class Fill:
    trade_id: int
    price: Decimal
    qty: Decimal
    commission: Decimal
    commission_asset: str
    is_maker: bool
    time_ms: int


@dataclass
class Order:
    order_id: int
    client_order_id: str
    account_id: str
    symbol: str
    side: Side
    type: OrderType
    time_in_force: TimeInForce | None
    quantity: Decimal | None  # base quantity; None for quote-sized market orders
    price: Decimal | None = None
    stop_price: Decimal | None = None
    quote_quantity: Decimal | None = None
    status: OrderStatus = OrderStatus.NEW
    executed_qty: Decimal = ZERO
    cumulative_quote: Decimal = ZERO
    created_ms: int = 0
    updated_ms: int = 0
    working_ms: int | None = None  # when it entered the book / triggered; None while waiting
    # The type the order currently works as: a triggered stop works as MARKET or LIMIT.
    working_type: OrderType | None = None
    reserved_asset: str = ""
    reserved: Decimal = ZERO  # still locked for this order
    fills: list[Fill] = field(default_factory=list)
    # The client id of the request that cancelled this order (dialects report it).
    cancel_client_order_id: str = ""

    @property
    def remaining(self) -> Decimal:
        if self.quantity is None:
            return ZERO
        return self.quantity - self.executed_qty

    @property
    def is_working(self) -> bool:
        return self.working_ms is not None

    @property
    def effective_type(self) -> OrderType:
        return self.working_type or self.type
