"""An order as the platform keeps it: the projection of its events, and how an event changes it.

``Order`` is immutable; ``change`` checks the transition against the table
(``state_machine.transition``) and returns the new order with its version + 1 and the event to
store, whose payload is exactly the fields that changed. The first event of an order carries
every field, so folding an order's events (``replay``) gives back its projection — the events
are the truth, the ``orders`` row is their cache, and a test holds the two equal.

Money is ``Decimal`` here and a decimal string in JSON and on the wire; times are UTC.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Literal

from eip.exchanges.contract.trading import OrderType, TimeInForce, TrailingOffset
from eip.order_management.state_machine import Event, OrderState, transition

Side = Literal["buy", "sell"]
ZERO = Decimal(0)


class ListRole(StrEnum):
    NONE = ""
    ENTRY = "entry"  # a bracket's entry
    LIMIT_LEG = "limit_leg"  # an OCO's limit leg; a bracket's take-profit
    STOP_LEG = "stop_leg"  # an OCO's stop leg; a bracket's stop-loss


class ConfirmationState(StrEnum):
    NONE = ""
    AWAITING = "awaiting"
    CONFIRMED = "confirmed"
    EXPIRED = "expired"


@dataclass(frozen=True, slots=True)
class Denial:
    code: str
    message: str
    details: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Order:
    order_id: str
    account_id: str
    exchange: str
    symbol: str  # "BASE/QUOTE"
    side: Side
    type: OrderType
    idempotency_key: str
    client_order_id: str
    partition: int  # of orders.commands.v1, from the account: who owns the order
    state: OrderState
    version: int
    requested_by: str
    created_at: datetime
    updated_at: datetime
    time_in_force: TimeInForce = TimeInForce.GTC
    quantity: Decimal | None = None  # base; None for a quote-sized market order
    quote_quantity: Decimal | None = None
    price: Decimal | None = None  # limit price
    stop_price: Decimal | None = None  # trigger (a trailing stop's activation price)
    trailing: TrailingOffset | None = None
    post_only: bool = False
    expire_time: datetime | None = None
    emulated: bool = False  # the trigger is the platform's
    trigger_price: Decimal | None = None  # current trigger level (a trailing stop's moves)
    triggered: bool = False
    sent: bool = False  # a placement was claimed at least once: the venue may have it
    venue_order_id: str | None = None
    filled_quantity: Decimal = ZERO
    average_price: Decimal | None = None
    venue_key: tuple[int, Decimal, int] | None = None  # newest venue update applied
    reason: str = ""
    denial: Denial | None = None
    confirmation: ConfirmationState = ConfirmationState.NONE
    confirm_by: datetime | None = None
    confirmed_by: str = ""
    four_eyes: bool = False
    list_id: str | None = None
    list_role: ListRole = ListRole.NONE
    parent_id: str | None = None
    awaits_entry: bool = False  # a bracket exit held until its entry is done
    list_native: bool = False  # an OCO the venue runs (both legs placed in one call)
    list_client_id: str | None = None  # a native OCO's own id at the venue (on its limit leg)
    replaces: str | None = None
    replaced_by: str | None = None
    adopted: bool = False

    @property
    def is_open(self) -> bool:
        return self.state.is_open

    @property
    def remaining(self) -> Decimal | None:
        if self.quantity is None:
            return None
        return max(ZERO, self.quantity - self.filled_quantity)

    @property
    def notional(self) -> Decimal | None:
        """Quote value at the order's own price (limit, else trigger); None without one."""
        if self.quote_quantity is not None:
            return self.quote_quantity
        reference = self.price or self.stop_price or self.trigger_price
        if self.quantity is None or reference is None:
            return None
        return self.quantity * reference


@dataclass(frozen=True, slots=True)
class OrderEventRecord:
    """One stored event: the order's version after it, what happened, who did it, and the
    fields it changed (all of them for the first event)."""

    order_id: str
    version: int
    event: Event
    state: OrderState
    actor: str
    time: datetime
    changes: Mapping[str, Any]


def new_order_id() -> str:
    return str(uuid.uuid4())


def now() -> datetime:
    return datetime.now(UTC)


def create(
    event: Event, *, actor: str, at: datetime | None = None, **fields: Any
) -> tuple[Order, OrderEventRecord]:
    """A new order by a creation event (PLACE, DENY, HOLD, ARM, or a venue event for an adopted
    order); ``fields`` are the order's (``order_id`` is drawn when absent)."""
    at = at or now()
    state = transition(None, event)
    fields.setdefault("order_id", new_order_id())
    order = Order(state=state, version=1, created_at=at, updated_at=at, **fields)
    record = OrderEventRecord(
        order.order_id, 1, event, state, actor, at, encode_fields(_all_fields(order))
    )
    return order, record


def change(
    order: Order, event: Event, *, actor: str, at: datetime | None = None, **changes: Any
) -> tuple[Order, OrderEventRecord]:
    """``order`` after ``event`` with ``changes`` applied; ``TransitionRefused`` if the table
    does not allow it (nothing changed then). The state is the table's, never a change's."""
    if "state" in changes or "version" in changes:
        raise ValueError("state and version come from the transition, not from changes")
    filled = changes.get("filled_quantity", order.filled_quantity)
    triggered = changes.get("triggered", order.triggered)
    state = transition(order.state, event, filled=filled > ZERO, triggered=bool(triggered))
    at = at or now()
    updated = dataclasses.replace(
        order, state=state, version=order.version + 1, updated_at=at, **changes
    )
    diff = {
        name: value
        for name, value in _all_fields(updated).items()
        if value != getattr(order, name) and name not in ("version",)
    }
    record = OrderEventRecord(
        order.order_id, updated.version, event, state, actor, at, encode_fields(diff)
    )
    return updated, record


def replay(records: Iterable[OrderEventRecord]) -> Order:
    """The order its events describe (the projection, rebuilt)."""
    fields: dict[str, Any] = {}
    version = 0
    for record in records:
        if record.version != version + 1:
            raise ValueError(f"event {record.version} of {record.order_id} follows {version}")
        fields.update(decode_fields(record.changes))
        version = record.version
    fields["version"] = version
    return Order(**fields)


def _all_fields(order: Order) -> dict[str, Any]:
    return {f.name: getattr(order, f.name) for f in dataclasses.fields(order)}


# -- JSON: Decimal as strings, times as ISO 8601, enums as values ------------------------------

_DECIMALS = {
    "quantity",
    "quote_quantity",
    "price",
    "stop_price",
    "trigger_price",
    "filled_quantity",
    "average_price",
}
_TIMES = {"created_at", "updated_at", "expire_time", "confirm_by"}


def encode_fields(fields: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in fields.items():
        if value is None or (
            isinstance(value, bool | int | str) and not isinstance(value, StrEnum)
        ):
            out[name] = value
        elif isinstance(value, StrEnum):
            out[name] = value.value
        elif isinstance(value, Decimal):
            out[name] = str(value)
        elif isinstance(value, datetime):
            out[name] = value.isoformat()
        elif isinstance(value, TrailingOffset):
            out[name] = {"value": str(value.value), "unit": value.unit}
        elif isinstance(value, Denial):
            out[name] = {
                "code": value.code,
                "message": value.message,
                "details": dict(value.details),
            }
        elif name == "venue_key":
            seq, filled, rank = value
            out[name] = [seq, str(filled), rank]
        else:
            raise TypeError(f"cannot encode {name}={value!r}")
    return out


def decode_fields(raw: Mapping[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, value in raw.items():
        if value is None:
            out[name] = None
        elif name in _DECIMALS:
            out[name] = Decimal(value)
        elif name in _TIMES:
            out[name] = datetime.fromisoformat(value)
        elif name == "state":
            out[name] = OrderState(value)
        elif name == "type":
            out[name] = OrderType(value)
        elif name == "time_in_force":
            out[name] = TimeInForce(value)
        elif name == "list_role":
            out[name] = ListRole(value)
        elif name == "confirmation":
            out[name] = ConfirmationState(value)
        elif name == "trailing":
            out[name] = TrailingOffset(Decimal(value["value"]), value["unit"])
        elif name == "denial":
            out[name] = Denial(value["code"], value["message"], dict(value.get("details") or {}))
        elif name == "venue_key":
            out[name] = (int(value[0]), Decimal(value[1]), int(value[2]))
        else:
            out[name] = value
    return out
