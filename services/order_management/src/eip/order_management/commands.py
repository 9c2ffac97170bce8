"""Commands in the platform's vocabulary, whichever way they came (``orders.commands.v1`` or
HTTP), checked for shape before anything else looks at them.

A command is identified by its account and idempotency key; ``request_hash`` fingerprints what it
asks (not who asked or how), so the same key sent again with the same request is answered with
the first result, and with a different request is refused (``idempotency_key_reused``).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any, Literal

from eip.events.v1 import orders_pb2
from eip.exchanges.contract.trading import OrderType, TimeInForce, TrailingOffset
from eip.order_management import wire

Side = Literal["buy", "sell"]
MAX_KEY = 128


class InvalidCommand(Exception):
    """The command cannot be an order as asked (shape, not risk): answered 422 over HTTP,
    dead-lettered from Kafka when it cannot even name its account and key."""

    def __init__(self, message: str, field_name: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field_name


@dataclass(frozen=True, slots=True)
class OrderSpec:
    exchange: str
    symbol: str
    side: Side
    type: OrderType
    quantity: Decimal | None = None
    quote_quantity: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    trailing: TrailingOffset | None = None
    time_in_force: TimeInForce = TimeInForce.GTC
    expire_time: datetime | None = None
    post_only: bool = False
    emulate: bool = False


@dataclass(frozen=True, slots=True)
class Origin:
    account_id: str
    idempotency_key: str
    requested_by: str
    source: str  # "http:<subject>" or "kafka:<requested_by>", for the anomaly guard


@dataclass(frozen=True, slots=True)
class PlaceOrder:
    origin: Origin
    spec: OrderSpec
    kind: Literal["place"] = "place"


@dataclass(frozen=True, slots=True)
class PlaceList:
    origin: Origin
    list_type: Literal["oco", "bracket"]
    exchange: str
    symbol: str
    side: Side  # of the OCO legs; a bracket's exits take the opposite of its entry
    quantity: Decimal | None  # the OCO's; a bracket's exits take the entry's filled quantity
    price: Decimal  # limit leg / take-profit
    stop_price: Decimal  # stop leg / stop-loss trigger
    stop_limit_price: Decimal | None = None
    entry: OrderSpec | None = None
    emulate: bool = False  # the platform runs the OCO even where the venue has native ones
    kind: Literal["place_list"] = "place_list"


@dataclass(frozen=True, slots=True)
class CancelOrder:
    origin: Origin
    order_id: str
    kind: Literal["cancel"] = "cancel"


@dataclass(frozen=True, slots=True)
class AmendOrder:
    origin: Origin
    order_id: str
    quantity: Decimal | None = None
    price: Decimal | None = None
    stop_price: Decimal | None = None
    kind: Literal["amend"] = "amend"


@dataclass(frozen=True, slots=True)
class CancelAll:
    origin: Origin
    exchange: str | None = None
    symbol: str | None = None
    reason: str = field(default="", compare=False)
    kind: Literal["cancel_all"] = "cancel_all"


@dataclass(frozen=True, slots=True)
class SetAccountSwitch:
    """The account's own kill switch, tightened (from the bus: an automation rule's action).
    Only ever restricts: see ``Intake._account_switch``."""

    origin: Origin
    state: Literal["reducing", "halted"]
    reason: str = ""
    cancel_open: bool = False
    kind: Literal["account_switch"] = "account_switch"


Command = PlaceOrder | PlaceList | CancelOrder | AmendOrder | CancelAll | SetAccountSwitch


# -- shape checks --------------------------------------------------------------------------------


def _positive(value: Decimal | None, name: str) -> None:
    if value is not None and (not value.is_finite() or value <= 0):
        raise InvalidCommand(f"{name} must be a positive decimal", name)


def check_spec(spec: OrderSpec, where: str = "") -> None:
    """Refuse what no venue could take as asked; ``InvalidCommand`` names the field."""
    p = f"{where}." if where else ""
    if not spec.exchange or not spec.symbol or "/" not in spec.symbol:
        raise InvalidCommand("exchange and symbol (BASE/QUOTE) are required", f"{p}symbol")
    for name in ("quantity", "quote_quantity", "price", "stop_price"):
        _positive(getattr(spec, name), f"{p}{name}")
    if (spec.quantity is None) == (spec.quote_quantity is None):
        raise InvalidCommand("give exactly one of quantity and quote_quantity", f"{p}quantity")
    if spec.quote_quantity is not None and spec.type is not OrderType.MARKET:
        raise InvalidCommand(
            "only market orders are sized in the quote asset", f"{p}quote_quantity"
        )
    if spec.type.has_limit_price and spec.price is None:
        raise InvalidCommand(f"a {spec.type.value} order needs a price", f"{p}price")
    if not spec.type.has_limit_price and spec.price is not None:
        raise InvalidCommand(f"a {spec.type.value} order takes no price", f"{p}price")
    if spec.type.is_trailing:
        if spec.trailing is None:
            raise InvalidCommand("a trailing stop needs its trailing offset", f"{p}trailing")
        _positive(spec.trailing.value, f"{p}trailing.value")
        if spec.trailing.unit == "bps" and spec.trailing.value >= 10_000:
            raise InvalidCommand("a trailing offset is below 10000 bps", f"{p}trailing.value")
    elif spec.type.is_conditional and spec.stop_price is None:
        raise InvalidCommand(f"a {spec.type.value} order needs a stop_price", f"{p}stop_price")
    if not spec.type.is_conditional and spec.stop_price is not None:
        raise InvalidCommand(f"a {spec.type.value} order takes no stop_price", f"{p}stop_price")
    if spec.trailing is not None and not spec.type.is_trailing:
        raise InvalidCommand("only trailing stops take a trailing offset", f"{p}trailing")
    if spec.post_only and (
        spec.type is not OrderType.LIMIT or spec.time_in_force is not TimeInForce.GTC
    ):
        raise InvalidCommand("post-only orders are GTC limit orders", f"{p}post_only")
    if spec.type is OrderType.MARKET and spec.time_in_force in (TimeInForce.GTC, TimeInForce.GTD):
        pass  # market orders take what is there; their time in force is not sent
    if spec.time_in_force is TimeInForce.GTD:
        if spec.expire_time is None or spec.expire_time <= datetime.now(UTC):
            raise InvalidCommand(
                "a GTD order needs an expire_time in the future", f"{p}expire_time"
            )
    elif spec.expire_time is not None:
        raise InvalidCommand("only GTD orders take an expire_time", f"{p}expire_time")
    if spec.emulate and not spec.type.is_conditional:
        raise InvalidCommand(
            "only stop, take-profit and trailing orders can be emulated", f"{p}emulate"
        )


def check_origin(origin: Origin) -> None:
    if not origin.account_id or len(origin.account_id) > 64:
        raise InvalidCommand("account_id is required (at most 64 characters)", "account_id")
    if not origin.idempotency_key or len(origin.idempotency_key) > MAX_KEY:
        raise InvalidCommand(
            f"idempotency_key is required (at most {MAX_KEY} characters)", "idempotency_key"
        )


def check(command: Command) -> None:
    check_origin(command.origin)
    if isinstance(command, PlaceOrder):
        check_spec(command.spec)
    elif isinstance(command, PlaceList):
        if not command.symbol or "/" not in command.symbol or not command.exchange:
            raise InvalidCommand("exchange and symbol (BASE/QUOTE) are required", "symbol")
        for name in ("quantity", "price", "stop_price", "stop_limit_price"):
            _positive(getattr(command, name), name)
        if command.list_type == "oco":
            if command.quantity is None or command.entry is not None:
                raise InvalidCommand("an OCO takes a quantity and no entry", "quantity")
        else:
            if command.entry is None:
                raise InvalidCommand("a bracket needs its entry order", "entry")
            check_spec(command.entry, "entry")
            if command.entry.quantity is None:
                raise InvalidCommand(
                    "a bracket's entry is sized in the base asset", "entry.quantity"
                )
            if command.entry.exchange != command.exchange or command.entry.symbol != command.symbol:
                raise InvalidCommand("a bracket's entry trades the bracket's instrument", "entry")
            if command.entry.type.is_conditional:
                raise InvalidCommand("a bracket's entry is a market or limit order", "entry.type")
        side = command.side if command.entry is None else _opposite(command.entry.side)
        # the limit leg takes profit, the stop leg limits the loss: on opposite sides of now
        if side == "sell" and command.stop_price >= command.price:
            raise InvalidCommand("a sell list's stop_price is below its price", "stop_price")
        if side == "buy" and command.stop_price <= command.price:
            raise InvalidCommand("a buy list's stop_price is above its price", "stop_price")
    elif isinstance(command, AmendOrder):
        for name in ("quantity", "price", "stop_price"):
            _positive(getattr(command, name), name)
        if command.quantity is None and command.price is None and command.stop_price is None:
            raise InvalidCommand("an amend changes quantity, price or stop_price", "quantity")
    elif isinstance(command, CancelAll) and command.symbol and "/" not in command.symbol:
        raise InvalidCommand("symbol is BASE/QUOTE", "symbol")
    elif isinstance(command, SetAccountSwitch):
        if command.cancel_open and command.state != "halted":
            raise InvalidCommand("cancel_open goes with HALTED", "cancel_open")
        if len(command.reason) > 200:
            raise InvalidCommand("reason is at most 200 characters", "reason")


def _opposite(side: Side) -> Side:
    return "sell" if side == "buy" else "buy"


def request_hash(command: Command) -> str:
    """What the command asks, fingerprinted (not who asked it, nor through which door)."""
    body = {k: v for k, v in asdict(command).items() if k != "origin"}
    body["account_id"] = command.origin.account_id
    return hashlib.sha256(json.dumps(body, sort_keys=True, default=str).encode()).hexdigest()


# -- orders.commands.v1 ---------------------------------------------------------------------------


def _decimal(text: str, name: str) -> Decimal | None:
    if not text:
        return None
    try:
        value = Decimal(text)
    except InvalidOperation:
        raise InvalidCommand(f"{name} is not a decimal", name) from None
    return value


def spec_from_proto(message: orders_pb2.OrderSpec) -> OrderSpec:
    kind = wire.TYPE_FROM_WIRE.get(message.type)
    if kind is None:
        raise InvalidCommand("unknown order type", "type")
    order_type, post_only = kind
    side = wire.SIDE_FROM_WIRE.get(message.side)
    if side is None:
        raise InvalidCommand("side is buy or sell", "side")
    trailing = None
    if message.HasField("trailing"):
        unit = wire.TRAILING_UNIT_FROM_WIRE.get(message.trailing.unit)
        value = _decimal(message.trailing.value, "trailing.value")
        if unit is None or value is None:
            raise InvalidCommand("a trailing offset has a value and a unit", "trailing")
        trailing = TrailingOffset(value, unit)
    tif = wire.TIF_FROM_WIRE.get(message.time_in_force, TimeInForce.GTC)
    return OrderSpec(
        exchange=message.instrument.exchange,
        symbol=message.instrument.symbol,
        side=side,
        type=order_type,
        quantity=_decimal(message.quantity, "quantity"),
        quote_quantity=_decimal(message.quote_quantity, "quote_quantity"),
        price=_decimal(message.price, "price"),
        stop_price=_decimal(message.stop_price, "stop_price"),
        trailing=trailing,
        time_in_force=tif,
        expire_time=(
            message.expire_time.ToDatetime(tzinfo=UTC) if message.HasField("expire_time") else None
        ),
        post_only=post_only or message.post_only,
        emulate=message.emulate,
    )


def from_proto(message: orders_pb2.OrderCommand) -> Command:
    """The command a record carries; ``InvalidCommand`` for one that cannot be an order."""
    requested_by = message.requested_by or "kafka"
    origin = Origin(
        message.account_id, message.idempotency_key, requested_by, f"kafka:{requested_by}"
    )
    which = message.WhichOneof("command")
    command: Command
    if which == "place":
        command = PlaceOrder(origin, spec_from_proto(message.place.spec))
    elif which == "cancel":
        command = CancelOrder(origin, message.cancel.order_id)
    elif which == "amend":
        a = message.amend
        command = AmendOrder(
            origin,
            a.order_id,
            quantity=_decimal(a.quantity, "quantity"),
            price=_decimal(a.price, "price"),
            stop_price=_decimal(a.stop_price, "stop_price"),
        )
    elif which == "cancel_all":
        command = CancelAll(
            origin, message.cancel_all.exchange or None, message.cancel_all.symbol or None
        )
    elif which == "set_account_switch":
        sw = message.set_account_switch
        states: dict[int, Literal["reducing", "halted"]] = {
            orders_pb2.ACCOUNT_SWITCH_STATE_REDUCING: "reducing",
            orders_pb2.ACCOUNT_SWITCH_STATE_HALTED: "halted",
        }
        state = states.get(sw.state)
        if state is None:
            raise InvalidCommand("an account switch is REDUCING or HALTED", "state")
        command = SetAccountSwitch(origin, state, sw.reason, sw.cancel_open)
    elif which == "place_list":
        pl = message.place_list
        list_types: dict[int, Literal["oco", "bracket"]] = {
            orders_pb2.ORDER_LIST_TYPE_OCO: "oco",
            orders_pb2.ORDER_LIST_TYPE_BRACKET: "bracket",
        }
        list_type = list_types.get(pl.type)
        if list_type is None:
            raise InvalidCommand("an order list is an OCO or a bracket", "type")
        price = _decimal(pl.price, "price")
        stop = _decimal(pl.stop_price, "stop_price")
        if price is None or stop is None:
            raise InvalidCommand("an order list needs price and stop_price", "price")
        side: Side = wire.SIDE_FROM_WIRE.get(pl.side, "sell")
        command = PlaceList(
            origin,
            list_type,
            pl.instrument.exchange,
            pl.instrument.symbol,
            side,
            _decimal(pl.quantity, "quantity"),
            price,
            stop,
            _decimal(pl.stop_limit_price, "stop_limit_price"),
            spec_from_proto(pl.entry) if pl.HasField("entry") else None,
            pl.emulate,
        )
    else:
        raise InvalidCommand("the command names no action", "command")
    check(command)
    return command


def _spec_to_proto(spec: OrderSpec) -> orders_pb2.OrderSpec:
    message = orders_pb2.OrderSpec(
        side=wire.SIDES[spec.side],
        type=wire.TYPES.get((spec.type, spec.post_only), wire.TYPES[(spec.type, False)]),
        time_in_force=wire.TIF[spec.time_in_force],
        quantity="" if spec.quantity is None else str(spec.quantity),
        quote_quantity="" if spec.quote_quantity is None else str(spec.quote_quantity),
        price="" if spec.price is None else str(spec.price),
        stop_price="" if spec.stop_price is None else str(spec.stop_price),
        post_only=spec.post_only,
        emulate=spec.emulate,
    )
    message.instrument.exchange = spec.exchange
    message.instrument.symbol = spec.symbol
    if spec.trailing is not None:
        message.trailing.value = str(spec.trailing.value)
        message.trailing.unit = wire.TRAILING_UNITS[spec.trailing.unit]
    if spec.expire_time is not None:
        message.expire_time.CopyFrom(wire.timestamp(spec.expire_time))
    return message


def to_proto(command: Command, command_id: str) -> orders_pb2.OrderCommand:
    """The record a command travels as (an HTTP command for an account another instance owns)."""
    origin = command.origin
    message = orders_pb2.OrderCommand(
        command_id=command_id,
        idempotency_key=origin.idempotency_key,
        account_id=origin.account_id,
        requested_by=origin.requested_by,
    )
    message.requested_time.CopyFrom(wire.timestamp(datetime.now(UTC)))
    if isinstance(command, PlaceOrder):
        message.place.spec.CopyFrom(_spec_to_proto(command.spec))
    elif isinstance(command, CancelOrder):
        message.cancel.order_id = command.order_id
    elif isinstance(command, AmendOrder):
        message.amend.order_id = command.order_id
        message.amend.quantity = "" if command.quantity is None else str(command.quantity)
        message.amend.price = "" if command.price is None else str(command.price)
        message.amend.stop_price = "" if command.stop_price is None else str(command.stop_price)
    elif isinstance(command, CancelAll):
        message.cancel_all.exchange = command.exchange or ""
        message.cancel_all.symbol = command.symbol or ""
    elif isinstance(command, SetAccountSwitch):
        sw = message.set_account_switch
        sw.state = (
            orders_pb2.ACCOUNT_SWITCH_STATE_HALTED
            if command.state == "halted"
            else orders_pb2.ACCOUNT_SWITCH_STATE_REDUCING
        )
        sw.reason = command.reason
        sw.cancel_open = command.cancel_open
    else:
        pl = message.place_list
        pl.type = (
            orders_pb2.ORDER_LIST_TYPE_OCO
            if command.list_type == "oco"
            else orders_pb2.ORDER_LIST_TYPE_BRACKET
        )
        pl.instrument.exchange = command.exchange
        pl.instrument.symbol = command.symbol
        pl.side = wire.SIDES[command.side]
        pl.quantity = "" if command.quantity is None else str(command.quantity)
        pl.price = str(command.price)
        pl.stop_price = str(command.stop_price)
        pl.stop_limit_price = (
            "" if command.stop_limit_price is None else str(command.stop_limit_price)
        )
        if command.entry is not None:
            pl.entry.CopyFrom(_spec_to_proto(command.entry))
        pl.emulate = command.emulate
    return message


def describe(command: Command) -> dict[str, Any]:
    """The command as the audit trail and logs show it (no secrets: commands carry none)."""
    out = {f.name: getattr(command, f.name) for f in fields(command) if f.name != "origin"}
    return {k: str(v) for k, v in out.items() if v is not None}
