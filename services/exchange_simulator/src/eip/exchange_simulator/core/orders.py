"""Orders as the core sees them, in the exchange-neutral vocabulary the dialects translate.

Besides single orders: order lists (two legs sharing one quantity, one cancels the other),
trailing stops (``Trailing``: a trigger that follows the best price since activation), the
self-trade prevention mode of an order, and the priority rule of an amendment. Each dialect maps
its venue's names onto these (Binance ``trailingDelta``/``orderList/oco``/
``selfTradePreventionMode``, Kraken ``trailing-stop``/``AmendOrder``, Coinbase ``edit``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from decimal import Decimal
from enum import StrEnum

from eip.exchange_simulator.core.trailing import Trailing

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
    EXPIRED = "EXPIRED"  # ``Order.expiry_reason`` says why when it was not the order's own rule

    @property
    def is_open(self) -> bool:
        return self in (OrderStatus.NEW, OrderStatus.PARTIALLY_FILLED)


class ExecType(StrEnum):
    NEW = "NEW"
    TRADE = "TRADE"
    CANCELED = "CANCELED"
    EXPIRED = "EXPIRED"
    REPLACED = "REPLACED"  # amended in place: same order id (quantity, price, trigger, client id)


class ExpiryReason(StrEnum):
    """Why the exchange expired an order, where its own rule (IOC, FOK, market without
    liquidity, funds gone at trigger) was not the reason."""

    SELF_TRADE = "self_trade"  # self-trade prevention (Binance shows EXPIRED_IN_MATCH)
    CONTINGENCY = "contingency"  # another order of its list executed, triggered or ended


class SelfTradePrevention(StrEnum):
    """What happens when an order would trade with a resting order of the same account. The
    taker's mode decides (as on Binance; Kraken's cancel-newest / cancel-oldest / cancel-both
    are EXPIRE_TAKER / EXPIRE_MAKER / EXPIRE_BOTH)."""

    NONE = "NONE"  # they trade
    EXPIRE_TAKER = "EXPIRE_TAKER"  # the incoming order's remainder expires
    EXPIRE_MAKER = "EXPIRE_MAKER"  # the resting order expires; the incoming one goes on
    EXPIRE_BOTH = "EXPIRE_BOTH"


class AmendPriority(StrEnum):
    """Whether an amended order keeps its place in the queue of its price level."""

    # Kept when only the quantity goes down; lost (to the back of the level) when the price
    # changes or the quantity goes up: Binance order/amend/keepPriority (which allows only a
    # decrease), Kraken AmendOrder, Coinbase edit.
    KEEP_ON_DECREASE = "keep_on_decrease"
    LOSE = "lose"  # always to the back, as a cancel and a new order would put it


class ListStatus(StrEnum):
    EXECUTING = "EXECUTING"  # at least one leg is open
    ALL_DONE = "ALL_DONE"  # every leg is closed


class ListChange(StrEnum):
    """What a list event reports (Binance listStatusType EXEC_STARTED / UPDATED / ALL_DONE)."""

    CREATED = "CREATED"
    UPDATED = "UPDATED"  # a leg was amended
    DONE = "DONE"


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
    self_trade_prevention: SelfTradePrevention = SelfTradePrevention.NONE
    prevented_qty: Decimal = ZERO  # expired by self-trade prevention, over the order's life
    expiry_reason: ExpiryReason | None = None
    list_id: int | None = None  # the order list this order is a leg of
    trailing: Trailing | None = None  # a trailing stop: its trigger follows the market
    trail_extreme: Decimal | None = None  # best trade price since activation; None: inactive
    trail_fired: bool = False  # the price retraced by the offset: triggers at the next check
    amendments: int = 0

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

    @property
    def trigger_price(self) -> Decimal | None:
        """The price whose trade triggers the order: the stop price, or for an active trailing
        stop the extreme since activation moved back by the offset (None while inactive)."""
        if self.trailing is None:
            return self.stop_price
        if self.trail_extreme is None:
            return None
        return self.trailing.trigger_level(self.side.value, self.trail_extreme)


@dataclass
class OrderList:
    """Legs sharing one quantity: the first to execute (even partly) or trigger expires the
    others (one-cancels-the-other); cancelling any leg cancels the list. The legs hold one
    reservation between them, the largest any leg needs, never one each."""

    list_id: int
    client_list_id: str
    account_id: str
    symbol: str
    quantity: Decimal
    orders: list[Order]
    status: ListStatus = ListStatus.EXECUTING
    created_ms: int = 0
    updated_ms: int = 0
    contingency: str = "OCO"

    @property
    def order_ids(self) -> list[int]:
        return [o.order_id for o in self.orders]
