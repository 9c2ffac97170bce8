"""orders.proto in and out: ``OrderEvent`` records built from an order and its event, and the
platform's enums mapped to the contract's vocabulary (one table each way, no venue anywhere)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from decimal import Decimal
from typing import Literal

from google.protobuf.timestamp_pb2 import Timestamp

from eip.events.v1 import common_pb2, orders_pb2
from eip.exchanges.contract.trading import OrderType, TimeInForce, VenueFill
from eip.order_management.orders import ConfirmationState, ListRole, Order, OrderEventRecord
from eip.order_management.state_machine import OrderState

STATUS: Mapping[OrderState, orders_pb2.OrderStatus.ValueType] = {
    OrderState.PENDING_NEW: orders_pb2.ORDER_STATUS_PENDING_NEW,
    OrderState.AWAITING_CONFIRMATION: orders_pb2.ORDER_STATUS_AWAITING_CONFIRMATION,
    OrderState.EMULATED: orders_pb2.ORDER_STATUS_EMULATED,
    OrderState.TRIGGERED: orders_pb2.ORDER_STATUS_TRIGGERED,
    OrderState.SUBMITTED: orders_pb2.ORDER_STATUS_SUBMITTED,
    OrderState.ACCEPTED: orders_pb2.ORDER_STATUS_NEW,
    OrderState.PARTIALLY_FILLED: orders_pb2.ORDER_STATUS_PARTIALLY_FILLED,
    OrderState.PENDING_CANCEL: orders_pb2.ORDER_STATUS_PENDING_CANCEL,
    OrderState.PENDING_AMEND: orders_pb2.ORDER_STATUS_PENDING_AMEND,
    OrderState.FILLED: orders_pb2.ORDER_STATUS_FILLED,
    OrderState.CANCELED: orders_pb2.ORDER_STATUS_CANCELED,
    OrderState.EXPIRED: orders_pb2.ORDER_STATUS_EXPIRED,
    OrderState.REJECTED: orders_pb2.ORDER_STATUS_REJECTED,
    OrderState.DENIED: orders_pb2.ORDER_STATUS_DENIED,
    OrderState.LOST: orders_pb2.ORDER_STATUS_LOST,
}

# (platform type, post-only) -> wire type, and back
TYPES: Mapping[tuple[OrderType, bool], orders_pb2.OrderType.ValueType] = {
    (OrderType.MARKET, False): orders_pb2.ORDER_TYPE_MARKET,
    (OrderType.LIMIT, False): orders_pb2.ORDER_TYPE_LIMIT,
    (OrderType.LIMIT, True): orders_pb2.ORDER_TYPE_LIMIT_MAKER,
    (OrderType.STOP_MARKET, False): orders_pb2.ORDER_TYPE_STOP_LOSS,
    (OrderType.STOP_LIMIT, False): orders_pb2.ORDER_TYPE_STOP_LOSS_LIMIT,
    (OrderType.TAKE_PROFIT_MARKET, False): orders_pb2.ORDER_TYPE_TAKE_PROFIT,
    (OrderType.TAKE_PROFIT_LIMIT, False): orders_pb2.ORDER_TYPE_TAKE_PROFIT_LIMIT,
    (OrderType.TRAILING_STOP_MARKET, False): orders_pb2.ORDER_TYPE_TRAILING_STOP,
    (OrderType.TRAILING_STOP_LIMIT, False): orders_pb2.ORDER_TYPE_TRAILING_STOP_LIMIT,
}
TYPE_FROM_WIRE: Mapping[orders_pb2.OrderType.ValueType, tuple[OrderType, bool]] = {
    v: k for k, v in TYPES.items()
}

TIF: Mapping[TimeInForce, orders_pb2.TimeInForce.ValueType] = {
    TimeInForce.GTC: orders_pb2.TIME_IN_FORCE_GTC,
    TimeInForce.IOC: orders_pb2.TIME_IN_FORCE_IOC,
    TimeInForce.FOK: orders_pb2.TIME_IN_FORCE_FOK,
    TimeInForce.GTD: orders_pb2.TIME_IN_FORCE_GTD,
}
TIF_FROM_WIRE: Mapping[orders_pb2.TimeInForce.ValueType, TimeInForce] = {
    v: k for k, v in TIF.items()
}

SIDES: Mapping[str, common_pb2.Side.ValueType] = {
    "buy": common_pb2.SIDE_BUY,
    "sell": common_pb2.SIDE_SELL,
}
SIDE_FROM_WIRE: Mapping[int, Literal["buy", "sell"]] = {
    common_pb2.SIDE_BUY: "buy",
    common_pb2.SIDE_SELL: "sell",
}

_ROLES: Mapping[ListRole, orders_pb2.ListRole.ValueType] = {
    ListRole.NONE: orders_pb2.LIST_ROLE_UNSPECIFIED,
    ListRole.ENTRY: orders_pb2.LIST_ROLE_ENTRY,
    ListRole.LIMIT_LEG: orders_pb2.LIST_ROLE_LIMIT_LEG,
    ListRole.STOP_LEG: orders_pb2.LIST_ROLE_STOP_LEG,
}
_CONFIRMATIONS: Mapping[ConfirmationState, orders_pb2.ConfirmationState.ValueType] = {
    ConfirmationState.NONE: orders_pb2.CONFIRMATION_STATE_UNSPECIFIED,
    ConfirmationState.AWAITING: orders_pb2.CONFIRMATION_STATE_AWAITING,
    ConfirmationState.CONFIRMED: orders_pb2.CONFIRMATION_STATE_CONFIRMED,
    ConfirmationState.EXPIRED: orders_pb2.CONFIRMATION_STATE_EXPIRED,
}
TRAILING_UNITS: Mapping[str, orders_pb2.TrailingUnit.ValueType] = {
    "price": orders_pb2.TRAILING_UNIT_PRICE,
    "bps": orders_pb2.TRAILING_UNIT_BPS,
}
TRAILING_UNIT_FROM_WIRE: Mapping[int, Literal["price", "bps"]] = {
    orders_pb2.TRAILING_UNIT_PRICE: "price",
    orders_pb2.TRAILING_UNIT_BPS: "bps",
}


def _dec(value: Decimal | None) -> str:
    return "" if value is None else str(value)


def timestamp(value: datetime) -> Timestamp:
    ts = Timestamp()
    ts.FromDatetime(value)
    return ts


def spec(order: Order) -> orders_pb2.OrderSpec:
    message = orders_pb2.OrderSpec(
        instrument=common_pb2.Instrument(exchange=order.exchange, symbol=order.symbol),
        side=SIDES[order.side],
        type=TYPES.get((order.type, order.post_only), TYPES[(order.type, False)]),
        time_in_force=TIF[order.time_in_force],
        quantity=_dec(order.quantity),
        quote_quantity=_dec(order.quote_quantity),
        price=_dec(order.price),
        stop_price=_dec(order.stop_price),
        post_only=order.post_only,
        emulate=order.emulated,
    )
    if order.trailing is not None:
        message.trailing.CopyFrom(
            orders_pb2.TrailingOffset(
                value=str(order.trailing.value), unit=TRAILING_UNITS[order.trailing.unit]
            )
        )
    if order.expire_time is not None:
        message.expire_time.CopyFrom(timestamp(order.expire_time))
    return message


def order_event(
    order: Order, record: OrderEventRecord, fill: VenueFill | None = None
) -> orders_pb2.OrderEvent:
    """The ``orders.events.v1`` record of one change of ``order`` (as it is after it)."""
    message = orders_pb2.OrderEvent(
        order_id=order.order_id,
        client_order_id=order.client_order_id,
        exchange_order_id=order.venue_order_id or "",
        account_id=order.account_id,
        spec=spec(order),
        status=STATUS[order.state],
        filled_quantity=str(order.filled_quantity),
        average_price=_dec(order.average_price),
        reason=order.reason,
        version=order.version,
        event=record.event.value,
        idempotency_key=order.idempotency_key,
        requested_by=order.requested_by,
        order_list_id=order.list_id or "",
        list_role=_ROLES[order.list_role],
        parent_order_id=order.parent_id or "",
        emulated=order.emulated,
        trigger_price=_dec(order.trigger_price),
        adopted=order.adopted,
        replaces_order_id=order.replaces or "",
        replaced_by_order_id=order.replaced_by or "",
        list_native=order.list_native,
    )
    message.times.received_time.CopyFrom(timestamp(record.time))
    if fill is not None:
        message.times.exchange_time.CopyFrom(timestamp(fill.time))
        message.last_fill.CopyFrom(
            orders_pb2.Fill(
                trade_id=fill.trade_id,
                price=str(fill.price),
                quantity=str(fill.quantity),
                fee=str(fill.fee),
                fee_asset=fill.fee_asset or "",
                maker=fill.liquidity == "maker",
            )
        )
    if order.denial is not None:
        message.denial.CopyFrom(
            orders_pb2.DenialReason(
                code=order.denial.code, message=order.denial.message, details=order.denial.details
            )
        )
    if order.confirmation is not ConfirmationState.NONE:
        confirmation = orders_pb2.Confirmation(
            state=_CONFIRMATIONS[order.confirmation],
            confirmed_by=order.confirmed_by,
            four_eyes=order.four_eyes,
        )
        if order.confirm_by is not None:
            confirmation.expires_at.CopyFrom(timestamp(order.confirm_by))
        message.confirmation.CopyFrom(confirmation)
    return message
