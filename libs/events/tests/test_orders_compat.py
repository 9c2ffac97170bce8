"""orders.proto grows without breaking its readers: every field and enum value it had when
order management started extending it keeps its number, name and type (proto3 readers of the old
schema keep decoding new records, and new readers old ones)."""

from __future__ import annotations

from google.protobuf.descriptor import FieldDescriptor

from eip.events.v1 import orders_pb2

# (message, field, number, type) of the first published schema.
FIELDS = [
    ("OrderSpec", "instrument", 1, FieldDescriptor.TYPE_MESSAGE),
    ("OrderSpec", "side", 2, FieldDescriptor.TYPE_ENUM),
    ("OrderSpec", "type", 3, FieldDescriptor.TYPE_ENUM),
    ("OrderSpec", "time_in_force", 4, FieldDescriptor.TYPE_ENUM),
    ("OrderSpec", "quantity", 5, FieldDescriptor.TYPE_STRING),
    ("OrderSpec", "quote_quantity", 6, FieldDescriptor.TYPE_STRING),
    ("OrderSpec", "price", 7, FieldDescriptor.TYPE_STRING),
    ("OrderSpec", "stop_price", 8, FieldDescriptor.TYPE_STRING),
    ("PlaceOrder", "spec", 1, FieldDescriptor.TYPE_MESSAGE),
    ("AmendOrder", "order_id", 1, FieldDescriptor.TYPE_STRING),
    ("AmendOrder", "quantity", 2, FieldDescriptor.TYPE_STRING),
    ("AmendOrder", "price", 3, FieldDescriptor.TYPE_STRING),
    ("CancelOrder", "order_id", 1, FieldDescriptor.TYPE_STRING),
    ("OrderCommand", "command_id", 1, FieldDescriptor.TYPE_STRING),
    ("OrderCommand", "idempotency_key", 2, FieldDescriptor.TYPE_STRING),
    ("OrderCommand", "account_id", 3, FieldDescriptor.TYPE_STRING),
    ("OrderCommand", "requested_by", 4, FieldDescriptor.TYPE_STRING),
    ("OrderCommand", "requested_time", 5, FieldDescriptor.TYPE_MESSAGE),
    ("OrderCommand", "place", 10, FieldDescriptor.TYPE_MESSAGE),
    ("OrderCommand", "amend", 11, FieldDescriptor.TYPE_MESSAGE),
    ("OrderCommand", "cancel", 12, FieldDescriptor.TYPE_MESSAGE),
    ("Fill", "trade_id", 1, FieldDescriptor.TYPE_STRING),
    ("Fill", "price", 2, FieldDescriptor.TYPE_STRING),
    ("Fill", "quantity", 3, FieldDescriptor.TYPE_STRING),
    ("Fill", "fee", 4, FieldDescriptor.TYPE_STRING),
    ("Fill", "fee_asset", 5, FieldDescriptor.TYPE_STRING),
    ("Fill", "maker", 6, FieldDescriptor.TYPE_BOOL),
    ("OrderEvent", "order_id", 1, FieldDescriptor.TYPE_STRING),
    ("OrderEvent", "client_order_id", 2, FieldDescriptor.TYPE_STRING),
    ("OrderEvent", "exchange_order_id", 3, FieldDescriptor.TYPE_STRING),
    ("OrderEvent", "account_id", 4, FieldDescriptor.TYPE_STRING),
    ("OrderEvent", "times", 5, FieldDescriptor.TYPE_MESSAGE),
    ("OrderEvent", "spec", 6, FieldDescriptor.TYPE_MESSAGE),
    ("OrderEvent", "status", 7, FieldDescriptor.TYPE_ENUM),
    ("OrderEvent", "filled_quantity", 8, FieldDescriptor.TYPE_STRING),
    ("OrderEvent", "average_price", 9, FieldDescriptor.TYPE_STRING),
    ("OrderEvent", "last_fill", 10, FieldDescriptor.TYPE_MESSAGE),
    ("OrderEvent", "reason", 11, FieldDescriptor.TYPE_STRING),
    ("OrderEvent", "version", 12, FieldDescriptor.TYPE_UINT64),
]

ENUMS = {
    "OrderType": {
        "ORDER_TYPE_UNSPECIFIED": 0,
        "ORDER_TYPE_MARKET": 1,
        "ORDER_TYPE_LIMIT": 2,
        "ORDER_TYPE_STOP_LOSS": 3,
        "ORDER_TYPE_STOP_LOSS_LIMIT": 4,
        "ORDER_TYPE_TAKE_PROFIT": 5,
        "ORDER_TYPE_TAKE_PROFIT_LIMIT": 6,
        "ORDER_TYPE_LIMIT_MAKER": 7,
        "ORDER_TYPE_TRAILING_STOP": 8,
    },
    "TimeInForce": {
        "TIME_IN_FORCE_UNSPECIFIED": 0,
        "TIME_IN_FORCE_GTC": 1,
        "TIME_IN_FORCE_IOC": 2,
        "TIME_IN_FORCE_FOK": 3,
    },
    "OrderStatus": {
        "ORDER_STATUS_UNSPECIFIED": 0,
        "ORDER_STATUS_PENDING_NEW": 1,
        "ORDER_STATUS_NEW": 2,
        "ORDER_STATUS_PARTIALLY_FILLED": 3,
        "ORDER_STATUS_FILLED": 4,
        "ORDER_STATUS_PENDING_CANCEL": 5,
        "ORDER_STATUS_CANCELED": 6,
        "ORDER_STATUS_REJECTED": 7,
        "ORDER_STATUS_EXPIRED": 8,
    },
}


def test_every_original_field_keeps_its_number_name_and_type() -> None:
    for message, name, number, kind in FIELDS:
        descriptor = getattr(orders_pb2, message).DESCRIPTOR
        field = descriptor.fields_by_name.get(name)
        assert field is not None, f"{message}.{name} was removed"
        assert (field.number, field.type) == (number, kind), f"{message}.{name} changed"


def test_every_original_enum_value_keeps_its_number() -> None:
    for enum, values in ENUMS.items():
        descriptor = getattr(orders_pb2, enum).DESCRIPTOR
        for name, number in values.items():
            assert descriptor.values_by_name[name].number == number, name


def test_the_command_oneof_still_holds_the_original_commands() -> None:
    oneof = orders_pb2.OrderCommand.DESCRIPTOR.oneofs_by_name["command"]
    assert {"place", "amend", "cancel"} <= {f.name for f in oneof.fields}
