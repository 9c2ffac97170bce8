"""What became of a firing's commands: order management's events on ``orders.events.v1``, read
back into the firing's record (``GET /v1/rules/{id}/firings`` shows its orders, their state,
filled quantity and average price).

A firing's orders are found by their idempotency key, which automation chose: the firing id
itself, ``<firing id>/<slice>`` for a schedule's slice, and order management's own
``<key>#<role>`` for the legs of an order list (OCO, bracket). Only orders that automation
asked for are kept (``requested_by`` is ``automation/rule/<rule id>``): every other order of
the platform passes by without touching PostgreSQL.

What is subtle: events arrive at least once (order management's relay may publish one twice
after a crash) and each order's events in order, but several orders of one firing may sit on
different partitions. So a row is keyed by order id and changed only by a newer order version.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal

from eip.automation.arbitrage_execution import PREFIX as ARBITRAGE_PREFIX
from eip.automation.arbitrage_execution import REQUESTED_BY as ARBITRAGE_REQUESTED_BY
from eip.events.v1 import common_pb2, orders_pb2

REQUESTED_BY = "automation/rule/"

# order management's state names (its HTTP API's), from the wire status
_STATES = {
    orders_pb2.ORDER_STATUS_PENDING_NEW: "pending_new",
    orders_pb2.ORDER_STATUS_NEW: "accepted",
    orders_pb2.ORDER_STATUS_PARTIALLY_FILLED: "partially_filled",
    orders_pb2.ORDER_STATUS_FILLED: "filled",
    orders_pb2.ORDER_STATUS_PENDING_CANCEL: "pending_cancel",
    orders_pb2.ORDER_STATUS_CANCELED: "canceled",
    orders_pb2.ORDER_STATUS_REJECTED: "rejected",
    orders_pb2.ORDER_STATUS_EXPIRED: "expired",
    orders_pb2.ORDER_STATUS_AWAITING_CONFIRMATION: "awaiting_confirmation",
    orders_pb2.ORDER_STATUS_SUBMITTED: "submitted",
    orders_pb2.ORDER_STATUS_TRIGGERED: "triggered",
    orders_pb2.ORDER_STATUS_PENDING_AMEND: "pending_amend",
    orders_pb2.ORDER_STATUS_DENIED: "denied",
    orders_pb2.ORDER_STATUS_EMULATED: "emulated",
    orders_pb2.ORDER_STATUS_LOST: "lost",
}
_SIDES = {common_pb2.SIDE_BUY: "buy", common_pb2.SIDE_SELL: "sell"}


@dataclass(frozen=True)
class Execution:
    """One order of a firing, as its latest event seen says."""

    order_id: str
    firing_id: str
    idempotency_key: str
    account_id: str
    exchange: str
    symbol: str
    side: str
    state: str
    filled_quantity: Decimal
    average_price: Decimal | None
    reason: str
    version: int
    updated_at: datetime


def is_arbitrage(e: Execution) -> bool:
    """Whether the order is an arbitrage execution's leg (``<execution id>#<role>``)."""
    return e.firing_id.startswith(ARBITRAGE_PREFIX)


def firing_of(idempotency_key: str) -> str:
    """The firing a command's key belongs to (a slice's or a list leg's suffix dropped)."""
    return idempotency_key.split("/", 1)[0].split("#", 1)[0]


def execution_of(event: orders_pb2.OrderEvent) -> Execution | None:
    """The event as a firing's order (or an arbitrage execution's leg: ``firing_id`` is then
    the execution id), or None when automation did not ask for it."""
    asked = event.requested_by.startswith((REQUESTED_BY, ARBITRAGE_REQUESTED_BY))
    if not asked or not event.idempotency_key:
        return None
    times = event.times
    at = (
        times.received_time.ToDatetime(tzinfo=UTC)
        if times.HasField("received_time")
        else datetime.now(UTC)
    )
    reason = event.reason
    if event.status == orders_pb2.ORDER_STATUS_DENIED and event.denial.code:
        reason = f"{event.denial.code}: {event.denial.message}"
    return Execution(
        order_id=event.order_id,
        firing_id=firing_of(event.idempotency_key),
        idempotency_key=event.idempotency_key,
        account_id=event.account_id,
        exchange=event.spec.instrument.exchange,
        symbol=event.spec.instrument.symbol,
        side=_SIDES.get(event.spec.side, ""),
        state=_STATES.get(event.status, "unknown"),
        filled_quantity=Decimal(event.filled_quantity or "0"),
        average_price=Decimal(event.average_price) if event.average_price else None,
        reason=reason,
        version=event.version,
        updated_at=at,
    )
