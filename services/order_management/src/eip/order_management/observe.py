"""What the venue says about an order, applied to it: an answer to a call, a private-stream
update, a fill, a REST poll or a reconcile pass all go through here, in a ``Tx``.

What is subtle:

- **Only forward.** Every venue update carries ``update_key`` (the venue's sequence, then the
  filled quantity, then how final the status is); one whose key is not above the last applied
  is old or a repeat and changes nothing — the answer to a placement and the stream's update of
  the same order arrive in either order.
- **Filled quantity only grows**: it is the larger of the venue's cumulative figure and the sum
  of the fills stored, so a fill that arrives before its order update, or after the order is
  closed, still counts (CANCELED and EXPIRED orders take late fills).
- **A cancel-replace completes here**: the cancel of an order in PENDING_AMEND confirmed, by
  whichever path saw it first, creates the replacement in the same transaction (sized to the
  new total less what the old order filled), so it is created exactly once.
- **Adoption**: an order the venue has and the platform does not know (placed outside it)
  becomes an order in the venue's state, flagged ``adopted``.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from decimal import Decimal
from typing import Any

from prometheus_client import Counter

from eip.exchanges.contract.trading import TimeInForce, VenueFill, VenueOrder, VenueOrderStatus
from eip.order_management.ledger import Tx
from eip.order_management.orders import Order, new_order_id
from eip.order_management.state_machine import Event, OrderState, allowed, transition

log = logging.getLogger(__name__)
ZERO = Decimal(0)

REFUSED = Counter(
    "eip_order_management_refused_transitions_total",
    "Venue updates the state machine refused (nothing changed)",
    ["state", "event"],
)


def classify(order: Order | None, venue: VenueOrder) -> Event:
    """The event a venue's view of an order is."""
    status = venue.status
    if status is VenueOrderStatus.FILLED:
        return Event.V_FILLED
    if status is VenueOrderStatus.CANCELED:
        return Event.V_CANCELED
    if status is VenueOrderStatus.EXPIRED:
        return Event.V_EXPIRED
    if status is VenueOrderStatus.REJECTED:
        return Event.V_REJECTED
    if venue.filled_quantity > ZERO or status is VenueOrderStatus.PARTIALLY_FILLED:
        return Event.V_PARTIALLY_FILLED
    conditional = venue.type.is_conditional and (order is None or not order.emulated)
    if status is VenueOrderStatus.OPEN and conditional:
        return Event.V_TRIGGERED
    return Event.V_ACCEPTED


def fill_event(order: Order, filled: Decimal) -> Event:
    if order.quantity is not None and filled >= order.quantity:
        return Event.V_FILLED
    return Event.V_PARTIALLY_FILLED


async def apply_venue(tx: Tx, order: Order, venue: VenueOrder, *, actor: str) -> Order:
    """``order`` after the venue's view ``venue`` of it (unchanged if the view is old, a repeat,
    or a transition the table refuses)."""
    order = tx.latest(order.order_id) or order
    key = venue.update_key()
    if order.venue_key is not None and key <= order.venue_key:
        return order
    stored, value = await tx.fill_totals(order.order_id)
    filled = max(order.filled_quantity, venue.filled_quantity, stored)
    event = classify(order, venue)
    if (
        event is Event.V_PARTIALLY_FILLED
        and order.quantity is not None
        and filled >= order.quantity
    ):
        event = Event.V_FILLED
    changes: dict[str, Any] = {"venue_key": key, "filled_quantity": filled}
    if order.venue_order_id is None:
        changes["venue_order_id"] = venue.venue_order_id
    average = venue.average_price if venue.filled_quantity == filled else None
    if average is None and stored == filled and stored > ZERO:
        average = value / stored
    if average is not None:
        changes["average_price"] = average
    working = (VenueOrderStatus.OPEN, VenueOrderStatus.PARTIALLY_FILLED, VenueOrderStatus.FILLED)
    if venue.type.is_conditional and not order.emulated and venue.status in working:
        changes["triggered"] = True
    if venue.reason and event in (Event.V_CANCELED, Event.V_EXPIRED, Event.V_REJECTED):
        changes["reason"] = venue.reason[:500]
    return await _move(tx, order, event, actor, changes)


async def apply_fill(tx: Tx, order: Order, fill: VenueFill, *, actor: str) -> tuple[Order, bool]:
    """Record an execution once; (the order after it, whether the fill was new)."""
    order = tx.latest(order.order_id) or order
    if not await tx.add_fill(order.order_id, fill):
        return order, False
    stored, value = await tx.fill_totals(order.order_id)
    filled = max(order.filled_quantity, stored)
    changes: dict[str, Any] = {"filled_quantity": filled}
    if order.venue_order_id is None:
        changes["venue_order_id"] = fill.venue_order_id
    if stored == filled and stored > ZERO:
        changes["average_price"] = value / stored
    if order.state in (OrderState.FILLED, OrderState.REJECTED, OrderState.DENIED):
        return order, True  # its final figures came with the order update; the fill is kept
    event = fill_event(order, filled)
    return await _move(tx, order, event, actor, changes, fill=fill), True


async def _move(
    tx: Tx,
    order: Order,
    event: Event,
    actor: str,
    changes: dict[str, Any],
    fill: VenueFill | None = None,
) -> Order:
    changed = {k: v for k, v in changes.items() if getattr(order, k) != v}
    news = changed.keys() - {"venue_key"}
    if not allowed(order.state, event):
        if news and fill is None:
            REFUSED.labels(order.state.value, event.value).inc()
            log.warning(
                "venue update refused by the state machine",
                extra={
                    "order_id": order.order_id,
                    "state": order.state.value,
                    "event": event.value,
                },
            )
        return order
    target = transition(
        order.state,
        event,
        filled=changes.get("filled_quantity", order.filled_quantity) > ZERO,
        triggered=bool(changes.get("triggered", order.triggered)),
    )
    if target is order.state and not news and fill is None:
        return order  # nothing new: no event
    replacement = None
    if order.state is OrderState.PENDING_AMEND and target is OrderState.CANCELED:
        replacement = await _replacement(tx, order, changed.get("filled_quantity"))
        if replacement is not None:
            changed["replaced_by"] = replacement["order_id"]
            changed["reason"] = f"replaced by {replacement['order_id']} (amend)"
    order = tx.change(order, event, actor=actor, fill=fill, **changed)
    if replacement is not None:
        new = tx.create(Event.PLACE, actor=actor, **replacement)
        await tx.enqueue(new, "place")
    return order


async def _replacement(tx: Tx, old: Order, filled: Decimal | None) -> dict[str, Any] | None:
    """The replacement of a cancel-replace whose cancel is being confirmed (its queued cancel
    carries the amended terms), or None when there is none or nothing is left to replace."""
    from eip.order_management.intake import replacement_fields  # the amend's terms live there

    for row in await tx.outbox.for_order(tx.conn, old.order_id):
        terms = row.payload.get("replace")
        if row.action != "cancel" or not terms:
            continue
        await tx.outbox.done(tx.conn, row.id)
        current = old if filled is None else replace(old, filled_quantity=filled)
        fields = replacement_fields(current, terms, old.partition)
        return fields if fields["quantity"] > ZERO else None
    return None


def adopted_fields(account_id: str, partition: int, venue: VenueOrder) -> dict[str, Any]:
    """The order a venue order the platform does not know becomes (flagged ``adopted``)."""
    key = f"adopted:{venue.exchange}:{venue.venue_order_id}"
    return {
        "order_id": new_order_id(),
        "account_id": account_id,
        "exchange": venue.exchange,
        "symbol": venue.symbol,
        "side": venue.side,
        "type": venue.type,
        "idempotency_key": key,
        "client_order_id": venue.client_order_id or f"venue:{venue.venue_order_id}",
        "partition": partition,
        "requested_by": f"venue:{venue.exchange}",
        "time_in_force": venue.time_in_force or TimeInForce.GTC,
        "quantity": venue.quantity,
        "price": venue.price,
        "stop_price": venue.stop_price,
        "venue_order_id": venue.venue_order_id,
        "filled_quantity": venue.filled_quantity,
        "average_price": venue.average_price,
        "venue_key": venue.update_key(),
        "adopted": True,
        "reason": "found at the venue, not placed through the platform",
    }


async def adopt(tx: Tx, account_id: str, partition: int, venue: VenueOrder) -> Order | None:
    existing = await tx.repo.by_venue_id(tx.conn, account_id, venue.exchange, venue.venue_order_id)
    if existing is not None:
        return await apply_venue(tx, existing, venue, actor=f"venue:{venue.exchange}")
    event = classify(None, venue)
    if not allowed(None, event):
        return None
    order = tx.create(
        event, actor=f"venue:{venue.exchange}", **adopted_fields(account_id, partition, venue)
    )
    log.warning(
        "ALERT adopted an order the platform did not place",
        extra={
            "alert": "adopted_order",
            "account_id": account_id,
            "exchange": venue.exchange,
            "venue_order_id": venue.venue_order_id,
            "order_id": order.order_id,
        },
    )
    return order
