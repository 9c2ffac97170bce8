"""A firing's action as an order-management command (``OrderCommand`` on
``orders.commands.v1``, key = account): ``PlaceOrder``, ``PlaceOrderList`` (OCO, bracket),
``CancelOrder``, ``CancelAll`` and ``SetAccountSwitch`` (REDUCING / HALTED), as order
management reads them.

The command is a pure function of the firing: its idempotency key is the firing id and its
command id a UUID derived from it, so the outbox can publish it again after a crash and order
management answers the repeat with the first order.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from google.protobuf.timestamp_pb2 import Timestamp

from eip.automation.rules.model import (
    AccountSwitchAction,
    CancelAllAction,
    CancelOrderAction,
    CommandAction,
    OrderListAction,
)
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
    action: CommandAction,
    at: datetime,
    requested_by: str | None = None,
) -> orders_pb2.OrderCommand:
    """``requested_by`` defaults to the rule's ``automation/rule/<rule id>``; an arbitrage
    execution's legs say ``automation/arbitrage/<account>``."""
    requested = Timestamp()
    requested.FromDatetime(at)
    command = orders_pb2.OrderCommand(
        command_id=str(command_id(firing_id)),
        idempotency_key=firing_id,
        account_id=account_id,
        requested_by=requested_by or f"automation/rule/{rule_id}",
        requested_time=requested,
    )
    if isinstance(action, CancelOrderAction):
        command.cancel.CopyFrom(orders_pb2.CancelOrder(order_id=action.order_id))
        return command
    if isinstance(action, CancelAllAction):
        command.cancel_all.CopyFrom(
            orders_pb2.CancelAll(exchange=action.exchange or "", symbol=action.symbol or "")
        )
        return command
    if isinstance(action, AccountSwitchAction):
        command.set_account_switch.CopyFrom(
            orders_pb2.SetAccountSwitch(
                state=(
                    orders_pb2.ACCOUNT_SWITCH_STATE_HALTED
                    if action.state == "halted"
                    else orders_pb2.ACCOUNT_SWITCH_STATE_REDUCING
                ),
                reason=f"automation rule {rule_id}, firing {firing_id}"[:200],
                cancel_open=action.cancel_open,
            )
        )
        return command
    if isinstance(action, OrderListAction):
        command.place_list.CopyFrom(_order_list(action))
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


def _order_list(action: OrderListAction) -> orders_pb2.PlaceOrderList:
    instrument = common_pb2.Instrument(exchange=action.exchange, symbol=action.symbol)
    message = orders_pb2.PlaceOrderList(
        type=(
            orders_pb2.ORDER_LIST_TYPE_OCO
            if action.list_type == "oco"
            else orders_pb2.ORDER_LIST_TYPE_BRACKET
        ),
        instrument=instrument,
        side=_SIDES[action.side],
        quantity=str(action.quantity),
        price=str(action.price),
        stop_price=str(action.stop_price),
        stop_limit_price=_text(action.stop_limit_price),
    )
    if action.list_type == "bracket":
        # the exits take the opposite side of the entry and its filled quantity
        message.side = _SIDES["sell" if action.side == "buy" else "buy"]
        message.entry.CopyFrom(
            orders_pb2.OrderSpec(
                instrument=instrument,
                side=_SIDES[action.side],
                type=_TYPES[action.entry_type or "market"],
                time_in_force=orders_pb2.TIME_IN_FORCE_GTC,
                quantity=str(action.quantity),
                price=_text(action.entry_price),
            )
        )
    return message


def _text(value: object) -> str:
    return "" if value is None else str(value)
