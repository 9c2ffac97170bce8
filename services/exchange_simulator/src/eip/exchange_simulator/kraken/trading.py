"""Kraken's order actions over the core — placing, amending, cancelling — shared by the REST API
and WebSocket v2 trading, so both count the same rate limits and keep the same records."""

from __future__ import annotations

from decimal import Decimal

from eip.exchange_simulator.core.orders import AmendPriority, Order, OrderType, Rejection
from eip.exchange_simulator.kraken import errors
from eip.exchange_simulator.kraken.dialect import KrakenDialect
from eip.exchange_simulator.kraken.errors import KrakenError
from eip.exchange_simulator.kraken.ids import amend_id, order_id_of
from eip.exchange_simulator.kraken.order_params import NewOrder

USER_REQUESTED = "User requested"


def place(dialect: KrakenDialect, new: NewOrder, now_ms: int, charge: bool = True) -> Order | None:
    """Place (or with ``validate`` only check) a new order; None when only validated.
    ``charge``: count it on the trading counter (an edit counts itself once, as an edit)."""
    ex, request = dialect.exchange, new.request
    try:
        if new.validate_only:
            ex.check(request)
            return None
        if charge:
            open_here = _open_count(dialect, request.account_id, request.symbol)
            dialect.limiter.charge_order(request.account_id, request.symbol, now_ms, open_here)
        order = ex.place(request)
    except Rejection as exc:
        raise errors.from_rejection(exc) from None
    dialect.extras[order.order_id] = new.extras
    return order


def _open_count(dialect: KrakenDialect, account_id: str, symbol: str) -> int:
    """The account's open orders on the pair, counted only when the pair holds enough open
    orders of anyone for the cap to matter (a count per new order would cost O(open orders))."""
    engine_orders = dialect.exchange.engine(symbol).open_orders
    if len(engine_orders) < dialect.limiter.limits.open_orders_max:
        return 0
    return sum(1 for order in engine_orders.values() if order.account_id == account_id)


def find_open(dialect: KrakenDialect, account_id: str, ident: str) -> list[Order]:
    """Open orders named by a txid, a ``cl_ord_id`` or a ``userref`` (which may name several),
    as ``CancelOrder`` takes them."""
    ident = ident.strip()
    open_orders = dialect.exchange.open_orders(account_id)
    order_id = order_id_of(ident)
    if order_id is not None:
        return [o for o in open_orders if o.order_id == order_id]
    by_client = [o for o in open_orders if dialect.extras_of(o).cl_ord_id == ident]
    if by_client:
        return by_client
    if ident.lstrip("-").isdigit():
        userref = int(ident)
        return [o for o in open_orders if dialect.extras_of(o).userref == userref]
    return []


def cancel(
    dialect: KrakenDialect,
    account_id: str,
    order: Order,
    now_ms: int,
    reason: str = USER_REQUESTED,
    charge: bool = True,
) -> None:
    if not order.status.is_open:
        raise KrakenError(errors.UNKNOWN_ORDER)
    if charge:
        dialect.limiter.charge_cancel(account_id, order.symbol, now_ms, now_ms - order.created_ms)
    extras = dialect.extras.get(order.order_id)
    if extras is None:
        extras = dialect.extras[order.order_id] = dialect.extras_of(order)
    extras.reason = reason
    try:
        dialect.exchange.cancel(account_id, order.symbol, order.order_id)
    except Rejection as exc:
        raise errors.from_rejection(exc) from None


def cancel_matching(dialect: KrakenDialect, account_id: str, ident: str, now_ms: int) -> int:
    found = find_open(dialect, account_id, ident)
    if not found:
        raise KrakenError(errors.UNKNOWN_ORDER)
    for order in found:
        cancel(dialect, account_id, order, now_ms)
    return len(found)


def cancel_all(dialect: KrakenDialect, account_id: str, now_ms: int) -> int:
    orders = dialect.exchange.open_orders(account_id)
    for order in orders:
        cancel(dialect, account_id, order, now_ms)
    return len(orders)


def amend(
    dialect: KrakenDialect,
    account_id: str,
    order: Order,
    now_ms: int,
    *,
    quantity: Decimal | None = None,
    limit_price: Decimal | None = None,
    trigger_price: Decimal | None = None,
    post_only: bool = False,
) -> str:
    """``AmendOrder`` / ``amend_order``: the order changes in place (same txid); it keeps its
    place in the queue when only its quantity goes down, as on Kraken. ``quantity`` is the new
    total, what already filled included. ``post_only``: a new limit price that would take is
    refused. Returns the amend id."""
    if quantity is None and limit_price is None and trigger_price is None:
        raise errors.invalid("order_qty, limit_price or trigger_price")
    if not order.status.is_open:
        raise KrakenError(errors.UNKNOWN_ORDER)
    if post_only and limit_price is not None and order.effective_type is OrderType.LIMIT:
        best = dialect.exchange.engine(order.symbol).book.opposite(order.side).best()
        if best is not None and (
            best.price <= limit_price if order.side.value == "BUY" else best.price >= limit_price
        ):
            raise KrakenError(errors.POST_ONLY)
    dialect.limiter.charge_edit(account_id, order.symbol, now_ms, now_ms - order.created_ms)
    try:
        dialect.exchange.amend(
            account_id,
            order.symbol,
            order.order_id,
            quantity=quantity,
            price=limit_price,
            stop_price=trigger_price,
            priority=AmendPriority.KEEP_ON_DECREASE,
        )
    except Rejection as exc:
        raise errors.from_rejection(exc) from None
    extras = dialect.extras.get(order.order_id)
    if extras is None:
        extras = dialect.extras[order.order_id] = dialect.extras_of(order)
    conditional = order.type.is_conditional
    if trigger_price is not None:
        extras.price_text = None  # absolute now: the description shows the new trigger
    if limit_price is not None:
        if conditional:
            extras.price2_text = None
        else:
            extras.price_text = None
    dialect.amends += 1
    return amend_id(dialect.amends)
