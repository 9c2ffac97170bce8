"""The HTTP API's bodies: what callers send (checked here for shape; the command checks and risk
run after) and what they get back. Money is a decimal string both ways."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from eip.exchanges.contract.trading import OrderType, TimeInForce, TrailingOffset
from eip.observability.inputs import Instant, Text
from eip.order_management.commands import OrderSpec
from eip.order_management.orders import Order

Key = Annotated[Text, Field(min_length=1, max_length=128)]
Account = Annotated[Text, Field(min_length=1, max_length=64)]
Name = Annotated[Text, Field(min_length=1, max_length=64)]
Amount = Annotated[Decimal, Field(gt=0, max_digits=40, allow_inf_nan=False)]


class Trailing(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Amount
    unit: Literal["price", "bps"]


class OrderFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    exchange: Name
    symbol: Annotated[Text, Field(min_length=3, max_length=40, description="BASE/QUOTE")]
    side: Literal["buy", "sell"]
    type: OrderType
    quantity: Amount | None = None
    quote_quantity: Amount | None = None
    price: Amount | None = None
    stop_price: Amount | None = Field(
        default=None, description="trigger; a trailing stop's activation price"
    )
    trailing: Trailing | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    expire_time: Instant | None = None
    post_only: bool = False
    emulate: bool = Field(
        default=False, description="hold the trigger in the platform even where the venue has it"
    )

    def spec(self) -> OrderSpec:
        return OrderSpec(
            exchange=self.exchange,
            symbol=self.symbol,
            side=self.side,
            type=self.type,
            quantity=self.quantity,
            quote_quantity=self.quote_quantity,
            price=self.price,
            stop_price=self.stop_price,
            trailing=None
            if self.trailing is None
            else TrailingOffset(self.trailing.value, self.trailing.unit),
            time_in_force=self.time_in_force,
            expire_time=self.expire_time,
            post_only=self.post_only,
            emulate=self.emulate,
        )


class PlaceOrderBody(OrderFields):
    account_id: Account
    idempotency_key: Key


class PlaceListBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: Account
    idempotency_key: Key
    type: Literal["oco", "bracket"]
    exchange: Name
    symbol: Annotated[Text, Field(min_length=3, max_length=40)]
    side: Literal["buy", "sell"] = Field(
        default="sell", description="of an OCO's legs (a bracket's exits take the other side)"
    )
    quantity: Amount | None = Field(default=None, description="an OCO's (not a bracket's)")
    price: Amount = Field(description="the limit leg / take-profit")
    stop_price: Amount = Field(description="the stop leg / stop-loss trigger")
    stop_limit_price: Amount | None = None
    entry: OrderFields | None = Field(default=None, description="a bracket's entry")
    emulate: bool = Field(
        default=False, description="run the OCO in the platform even where the venue has lists"
    )


class CancelBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idempotency_key: Key | None = None


class AmendBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    idempotency_key: Key
    quantity: Amount | None = Field(default=None, description="the new total quantity")
    price: Amount | None = None
    stop_price: Amount | None = Field(default=None, description="an emulated order's trigger")


class CancelAllBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    account_id: Account
    exchange: Name | None = None
    symbol: Annotated[Text, Field(min_length=3, max_length=40)] | None = None
    idempotency_key: Key | None = None


class LimitsBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    scope: Literal["platform", "exchange", "account", "instrument"]
    scope_id: Annotated[Text, Field(max_length=120)] = Field(
        default="", description="'' for the platform; exchange:BASE/QUOTE for an instrument"
    )
    limits: dict[Annotated[Text, Field(max_length=64)], Any] = Field(
        description="the fields of Limits this scope sets (docs/ORDER_MANAGEMENT.md)"
    )


class KillSwitchBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    level: Literal["platform", "exchange", "account"]
    scope_id: Annotated[Text, Field(max_length=64)] = ""
    state: Literal["active", "reducing", "halted"]
    reason: Annotated[Text, Field(max_length=500)] = ""
    cancel_open: bool = Field(
        default=False, description="HALTED only: cancel every open order in the scope at once"
    )


class OrderView(BaseModel):
    order_id: str
    account_id: str
    exchange: str
    symbol: str
    side: str
    type: str
    state: str
    version: int
    idempotency_key: str
    client_order_id: str
    venue_order_id: str | None
    time_in_force: str
    quantity: str | None
    quote_quantity: str | None
    price: str | None
    stop_price: str | None
    trailing: dict[str, str] | None
    post_only: bool
    expire_time: datetime | None
    emulated: bool
    trigger_price: str | None
    triggered: bool
    filled_quantity: str
    average_price: str | None
    reason: str
    denial: dict[str, Any] | None
    confirmation: str | None
    confirm_by: datetime | None
    confirmed_by: str | None
    four_eyes: bool
    list_id: str | None
    list_role: str | None
    list_native: bool
    parent_id: str | None
    replaces: str | None
    replaced_by: str | None
    adopted: bool
    requested_by: str
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, order: Order) -> OrderView:
        def dec(value: Decimal | None) -> str | None:
            return None if value is None else str(value)

        return cls(
            order_id=order.order_id,
            account_id=order.account_id,
            exchange=order.exchange,
            symbol=order.symbol,
            side=order.side,
            type=order.type.value,
            state=order.state.value,
            version=order.version,
            idempotency_key=order.idempotency_key,
            client_order_id=order.client_order_id,
            venue_order_id=order.venue_order_id,
            time_in_force=order.time_in_force.value,
            quantity=dec(order.quantity),
            quote_quantity=dec(order.quote_quantity),
            price=dec(order.price),
            stop_price=dec(order.stop_price),
            trailing=None
            if order.trailing is None
            else {"value": str(order.trailing.value), "unit": order.trailing.unit},
            post_only=order.post_only,
            expire_time=order.expire_time,
            emulated=order.emulated,
            trigger_price=dec(order.trigger_price),
            triggered=order.triggered,
            filled_quantity=str(order.filled_quantity),
            average_price=dec(order.average_price),
            reason=order.reason,
            denial=None
            if order.denial is None
            else {
                "code": order.denial.code,
                "message": order.denial.message,
                "details": dict(order.denial.details),
            },
            confirmation=order.confirmation.value or None,
            confirm_by=order.confirm_by,
            confirmed_by=order.confirmed_by or None,
            four_eyes=order.four_eyes,
            list_id=order.list_id,
            list_role=order.list_role.value or None,
            list_native=order.list_native,
            parent_id=order.parent_id,
            replaces=order.replaces,
            replaced_by=order.replaced_by,
            adopted=order.adopted,
            requested_by=order.requested_by,
            created_at=order.created_at,
            updated_at=order.updated_at,
        )


class OrderAnswer(BaseModel):
    order: OrderView
    duplicate: bool = Field(description="the idempotency key was seen before: the first order")


class OrdersAnswer(BaseModel):
    orders: list[OrderView]
    next_before: str | None = Field(default=None, description="page on with before=<this>")


class ListAnswer(BaseModel):
    list_id: str
    orders: list[OrderView]
    duplicate: bool = False


class CancelAllAnswer(BaseModel):
    orders: list[OrderView]
    duplicate: bool = False


class QueuedAnswer(BaseModel):
    status: Literal["queued"] = "queued"
    account_id: str
    idempotency_key: str
    message: str


class EventView(BaseModel):
    version: int
    event: str
    state: str
    actor: str
    time: datetime
    changes: dict[str, Any]


class EventsAnswer(BaseModel):
    order_id: str
    events: list[EventView]


class FillView(BaseModel):
    trade_id: str
    venue_order_id: str
    price: str
    quantity: str
    fee: str
    fee_asset: str | None
    liquidity: str | None
    time: datetime


class FillsAnswer(BaseModel):
    order_id: str
    fills: list[FillView]
