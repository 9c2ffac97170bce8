"""Emulated triggers, as pure functions of the trade prices seen: where an order's trigger
stands, and whether a trade fires it.

- Stop-loss and take-profit: a sell stop-loss and a buy take-profit fire when a trade is at or
  below the stop price (``down``); a buy stop-loss and a sell take-profit at or above (``up``).
- Trailing stop: a sell trails the highest trade price since activation (the watermark) and
  fires at or below watermark - offset; a buy trails the lowest and fires at or above
  watermark + offset. The offset is a price distance or basis points of the watermark. With an
  activation price it starts following once a trade reaches it (a sell: at or above it; a buy:
  at or below); without one, from the first trade it sees.
- A bracket's exit (``entry``) waits for its entry order, not for a price.

Every trade price is observed, not only the last of a batch, as the venues do. The watermark is
saved as it moves (batched) so a restart resumes from it; trades while no instance watched are
not seen (documented).
"""

from __future__ import annotations

from decimal import Decimal

from eip.exchanges.contract.trading import OrderType
from eip.order_management.orders import Order
from eip.order_management.storage.triggers import Direction, Trigger

TEN_THOUSAND = Decimal(10_000)


def direction(order: Order) -> Direction:
    stop_loss = order.type in (
        OrderType.STOP_MARKET,
        OrderType.STOP_LIMIT,
        OrderType.TRAILING_STOP_MARKET,
        OrderType.TRAILING_STOP_LIMIT,
    )
    falls = (order.side == "sell") == stop_loss
    return "down" if falls else "up"


def trigger_for(order: Order, *, waiting_for_entry: bool = False) -> Trigger:
    """The trigger an emulated order starts with."""
    trailing = order.trailing
    if waiting_for_entry:
        kind = "entry"
    elif trailing is not None:
        kind = "trailing"
    else:
        kind = "price"
    return Trigger(
        order_id=order.order_id,
        account_id=order.account_id,
        exchange=order.exchange,
        symbol=order.symbol,
        partition=order.partition,
        kind=kind,  # type: ignore[arg-type]
        direction=direction(order),
        trigger_price=None if trailing is not None else order.stop_price,
        trailing_value=None if trailing is None else trailing.value,
        trailing_unit=None if trailing is None else trailing.unit,
        activation_price=order.stop_price if trailing is not None else None,
        active=trailing is None or order.stop_price is None,
    )


def _offset(t: Trigger, watermark: Decimal) -> Decimal:
    assert t.trailing_value is not None
    if t.trailing_unit == "bps":
        return watermark * t.trailing_value / TEN_THOUSAND
    return t.trailing_value


def level(t: Trigger) -> Decimal | None:
    """The price at which the trigger fires now (None: not active yet, or waiting for its
    entry)."""
    if t.kind == "price":
        return t.trigger_price
    if t.kind == "trailing" and t.active and t.watermark is not None:
        offset = _offset(t, t.watermark)
        return t.watermark - offset if t.direction == "down" else t.watermark + offset
    return None


def observe(t: Trigger, price: Decimal) -> tuple[Trigger, bool]:
    """The trigger after a trade at ``price``, and whether that trade fires it."""
    if t.kind == "entry" or t.fired_at is not None:
        return t, False
    if t.kind == "trailing":
        if not t.active:
            reached = (
                t.activation_price is None
                or (t.direction == "down" and price >= t.activation_price)
                or (t.direction == "up" and price <= t.activation_price)
            )
            if not reached:
                return t, False
            t = t.with_(active=True, watermark=price)
        elif t.watermark is None:
            t = t.with_(watermark=price)
        else:
            better = price > t.watermark if t.direction == "down" else price < t.watermark
            if better:
                t = t.with_(watermark=price)
    at = level(t)
    if at is None:
        return t, False
    fires = price <= at if t.direction == "down" else price >= at
    return t, fires
