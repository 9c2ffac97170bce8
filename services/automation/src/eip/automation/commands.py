"""A firing's action as an order-management command (``OrderCommand`` on
``orders.commands.v1``, key = account), in the shape ``proto/eip/events/v1/orders.proto`` has on
main: ``PlaceOrder`` and ``CancelOrder``. The order-management branch extends the same message
(order lists, cancel-all) without moving a field, so these commands stay valid there.

The command is a pure function of the firing: its idempotency key is the firing id and its
command id a UUID derived from it, so the outbox can publish it again after a crash and order
management answers the repeat with the first order.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from eip.automation.rules.model import CancelOrderAction, PlaceOrderAction
from eip.events.v1 import common_pb2, orders_pb2

# uuid5 namespace of command ids (a fixed random UUID: ids differ from other uuid5 users')
COMMAND_NAMESPACE = uuid.UUID("0b8f3c4e-7a51-4d1e-9a43-5c2f6f1e8d27")

_TYPES = {
    "market": orders_pb2.ORDER_TYPE_MARKET,
    "limit": orders_pb2.ORDER_TYPE_LIMIT,
    "stop_loss": orders_pb2.ORDER_TYPE_STOP_LOSS,
    "stop_loss_limit": orders_pb2.ORDER_TYPE_STOP_LOSS_LIMIT,
    "take_profit": orders_pb2.ORDER_TYPE_TAKE_PROFIT,
    "take_profit_limit": orders_pb2.ORDER_TYPE_TAKE_PROFIT_LIMIT,
}
_TIF = {
    "gtc": orders_pb2.TIME_IN_FORCE_GTC,
    "ioc": orders_pb2.TIME_IN_FORCE_IOC,
    "fok": orders_pb2.TIME_IN_FORCE_FOK,
}
_SIDES = {"buy": common_pb2.SIDE_BUY, "sell": common_pb2.SIDE_SELL}


def command_id(firing_id: str) -> uuid.UUID:
    return uuid.uuid5(COMMAND_NAMESPACE, firing_id)


def order_command(
    firing_id: str,
    account_id: str,
    rule_id: str,
    action: PlaceOrderAction | CancelOrderAction,
    at: datetime,
) -> orders_pb2.OrderCommand:
    requested = Timestamp()
    requested.FromDatetime(at)
    command = orders_pb2.OrderCommand(
        command_id=str(command_id(firing_id)),
        idempotency_key=firing_id,
        account_id=account_id,
        requested_by=f"automation/rule/{rule_id}",
        requested_time=requested,
    )
    if isinstance(action, CancelOrderAction):
        command.cancel.CopyFrom(orders_pb2.CancelOrder(order_id=action.order_id))
        return command
    command.place.spec.CopyFrom(
        orders_pb2.OrderSpec(
            instrument=common_pb2.Instrument(exchange=action.exchange, symbol=action.symbol),
            side=_SIDES[action.side],
            type=_TYPES[action.order_type],
            time_in_force=_TIF[action.time_in_force],
            quantity=_text(action.quantity),
            quote_quantity=_text(action.quote_quantity),
            price=_text(action.price),
            stop_price=_text(action.stop_price),
        )
    )
    return command


def _text(value: object) -> str:
    return "" if value is None else str(value)
