"""Coinbase Advanced Trade order endpoints (``/api/v3/brokerage/orders...``): create (and
preview), batch cancel, edit (and preview), one order, lists of orders and of fills.

An edit that is refused is ``success: false`` with ``errors: [{edit_failure_reason,
preview_failure_reason}]`` (ccxt 4.5.90 does not raise on it: it reads no ``id`` in ``errors``).

Lists are newest first and paged with an opaque ``cursor`` (``paging.py``), with ``has_next``
saying whether more match.
"""

from __future__ import annotations

import uuid
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from eip.exchange_simulator.coinbase import errors, order_config, wire
from eip.exchange_simulator.coinbase.errors import OrderFailure
from eip.exchange_simulator.coinbase.orders import plain, stop_is_up
from eip.exchange_simulator.coinbase.paging import page
from eip.exchange_simulator.coinbase.venue import CoinbaseVenue, Ctx, decimal_field
from eip.exchange_simulator.core.accounts import Permission
from eip.exchange_simulator.core.exchange import ListRequest, OrderRequest
from eip.exchange_simulator.core.orders import (
    AmendPriority,
    Fill,
    Order,
    OrderType,
    Rejection,
    Side,
    TimeInForce,
)

PREFIX = "/api/v3/brokerage"
TRADE = Permission.TRADE
MAX_CANCEL_IDS = 100
STATUSES = {"OPEN", "FILLED", "CANCELLED", "EXPIRED", "FAILED", "PENDING", "UNKNOWN_ORDER_STATUS"}
ZERO = Decimal(0)


def cursor_key(cursor: str | None, parts: int) -> Any:
    """The key a cursor of ours carries: an order id, or a fill's (time, order, trade)."""
    if not cursor:
        return None
    try:
        numbers = tuple(int(n) for n in cursor.split("-"))
    except ValueError:
        raise errors.invalid("cursor is not one this API returned") from None
    if len(numbers) != parts:
        raise errors.invalid("cursor is not one this API returned")
    return numbers[0] if parts == 1 else numbers


def fill_key(pair: tuple[Order, Fill]) -> tuple[int, int, int]:
    order, fill = pair
    return fill.time_ms, order.order_id, fill.trade_id


def place(venue: CoinbaseVenue, account_id: str, body: dict[str, Any], now_ms: int) -> Any:
    """``POST /orders``: place the order, or answer the one placed with this client order id."""
    book = venue.orders
    echo = body.get("order_configuration")
    client_id = order_config.client_order_id(body)
    existing = book.by_client_id(account_id, client_id)
    if existing is not None:  # an idempotency key: the first order is the answer
        return placed(venue, existing, echo)
    new: order_config.NewOrder | None = None
    try:
        new = order_config.parse_new_order(body, account_id, venue.by_product, now_ms)
        if new.bracket_stop is None:
            order = venue.exchange.place(new.request)
        else:
            legs = [new.request, new.bracket_stop]
            order, stop = venue.exchange.place_list(ListRequest(legs, client_id)).orders
            book.bracket(order, stop)
    except OrderFailure as failure:
        return refused(failure, echo)
    except Rejection as exc:
        return refused(errors.from_rejection(exc, new.stop_up if new else None), echo)
    if new.end_time_ms is not None:
        book.expire_at(order, new.end_time_ms)
    return placed(venue, order, echo)


def placed(venue: CoinbaseVenue, order: Order, echo: Any) -> dict[str, Any]:
    return {
        "success": True,
        "failure_reason": "UNKNOWN_FAILURE_REASON",
        "order_id": venue.ids.order(order.order_id),
        "success_response": venue.orders.success_response(order),
        "order_configuration": echo,
    }


def refused(failure: OrderFailure, echo: Any) -> dict[str, Any]:
    return {
        "success": False,
        "failure_reason": "UNKNOWN_FAILURE_REASON",
        "order_id": "",
        "error_response": failure.error_response(),
        "order_configuration": echo,
    }


def cancel(venue: CoinbaseVenue, account_id: str, body: dict[str, Any]) -> Any:
    """``POST /orders/batch_cancel``: one result per id, in order."""
    ids = body.get("order_ids")
    if not isinstance(ids, list) or not ids or not all(isinstance(i, str) for i in ids):
        raise errors.invalid("order_ids must be a non-empty list of order ids")
    if len(ids) > MAX_CANCEL_IDS:
        raise errors.invalid(f"at most {MAX_CANCEL_IDS} order_ids per request")
    results = []
    for order_uuid in ids:
        order = venue.orders.find(account_id, order_uuid)
        ok = order is not None and venue.orders.is_open(order)
        if order is not None and ok:
            venue.orders.cancel(order)
        reason = "UNKNOWN_CANCEL_FAILURE_REASON" if ok else "UNKNOWN_CANCEL_ORDER"
        results.append({"success": ok, "failure_reason": reason, "order_id": order_uuid})
    return {"results": results}


EDITABLE = (
    OrderType.LIMIT,
    OrderType.LIMIT_MAKER,
    OrderType.STOP_LOSS_LIMIT,
    OrderType.TAKE_PROFIT_LIMIT,
)
_EDIT_REFUSALS = {
    "quantity_below_executed": ("CANNOT_EDIT_TO_BELOW_FILLED_SIZE", errors.UNKNOWN_PREVIEW),
    "insufficient_balance": ("COMMANDER_REJECTED_EDIT_ORDER", "PREVIEW_INSUFFICIENT_FUND"),
    "would_match": ("COMMANDER_REJECTED_EDIT_ORDER", "PREVIEW_INVALID_LIMIT_PRICE_POST_ONLY"),
    "unknown_order": ("ORDER_NOT_FOUND", errors.UNKNOWN_PREVIEW),
}


def edit(venue: CoinbaseVenue, account_id: str, body: dict[str, Any], apply: bool) -> Any:
    """``POST /orders/edit`` (``apply``) and ``/orders/edit_preview``: a new ``size`` (the
    total, filled part included), ``price`` or ``stop_price`` for an open GTC limit or stop-limit
    order, in place (same order id). Priority is kept when only the size goes down, lost when
    the price changes or the size goes up, as on Coinbase."""
    order_uuid = body.get("order_id")
    if not isinstance(order_uuid, str) or not order_uuid:
        raise errors.invalid("order_id is required")
    changes = {
        name: decimal_field(body[name], name)
        for name in ("size", "price", "stop_price")
        if body.get(name) not in (None, "")
    }
    if not changes:
        raise errors.invalid("an edit needs a size, a price or a stop_price")
    order = venue.orders.find(account_id, order_uuid)
    refusal = edit_refusal(venue, order, changes)
    if refusal is None and apply:
        assert order is not None
        try:
            venue.exchange.amend(
                account_id,
                order.symbol,
                order.order_id,
                quantity=changes.get("size"),
                price=changes.get("price"),
                stop_price=changes.get("stop_price"),
                priority=AmendPriority.KEEP_ON_DECREASE,
            )
        except Rejection as exc:
            stop_up = stop_is_up(order.type, order.side) if order.type.is_conditional else None
            preview = errors.from_rejection(exc, stop_up).preview_failure_reason
            refusal = _EDIT_REFUSALS.get(exc.reason, ("UNKNOWN_EDIT_ORDER_FAILURE_REASON", preview))
        else:
            venue.orders.edited(order, venue.exchange.now_ms())
    errs = (
        []
        if refusal is None
        else [{"edit_failure_reason": refusal[0], "preview_failure_reason": refusal[1]}]
    )
    if apply:
        return {"success": refusal is None, "errors": errs}
    return edit_preview_body(venue, order, changes, errs)


def edit_refusal(
    venue: CoinbaseVenue, order: Order | None, changes: dict[str, Decimal]
) -> tuple[str, str] | None:
    """What Coinbase refuses before the order is touched: (edit reason, preview reason)."""
    unknown = errors.UNKNOWN_PREVIEW
    if order is None:
        return "ORDER_NOT_FOUND", unknown
    if not order.status.is_open:
        return "ONLY_OPEN_ORDERS_CAN_BE_EDITED", unknown
    if (
        order.type not in EDITABLE
        or order.time_in_force not in (None, TimeInForce.GTC)
        or venue.orders.end_time_ms(order) is not None
        or venue.orders.is_bracket(order)
    ):
        return "ONLY_LIMIT_ORDER_EDITS_SUPPORTED", unknown
    inst = venue.exchange.instruments[order.symbol]
    size, price, stop = changes.get("size"), changes.get("price"), changes.get("stop_price")
    if size is not None:
        if size < order.executed_qty:
            return "CANNOT_EDIT_TO_BELOW_FILLED_SIZE", unknown
        if not inst.on_step(size) or size < inst.min_qty or size > inst.max_qty:
            return "INVALID_EDITED_SIZE", unknown
    for new in (price, stop):
        if new is not None and not inst.on_tick(new):
            return "INVALID_EDITED_PRICE", unknown
    if stop is not None and not order.type.is_conditional:
        return "INVALID_EDITED_PRICE", unknown
    if (
        (size in (None, order.quantity))
        and (price in (None, order.price))
        and (stop in (None, order.stop_price))
    ):
        return "EDIT_REQUEST_EQUAL_TO_ORIGINAL_REQUEST", unknown
    return None


def edit_preview_body(
    venue: CoinbaseVenue, order: Order | None, changes: dict[str, Decimal], errs: list[Any]
) -> dict[str, Any]:
    size = price = ZERO
    if order is not None:
        size = changes.get("size", order.quantity or ZERO)
        price = changes.get("price", order.price or ZERO)
    commission = ZERO
    if order is not None:
        commission = size * price * venue.exchange.instruments[order.symbol].maker_fee
    return {
        "errors": errs,
        "slippage": "0",
        "order_total": plain(size * price + commission),
        "commission_total": plain(commission),
        "quote_size": plain(size * price),
        "base_size": plain(size),
        "best_bid": "",
        "best_ask": "",
        "average_filled_price": "0",
    }


def trading_router(venue: CoinbaseVenue) -> APIRouter:
    router = APIRouter(prefix=PREFIX, tags=["coinbase trading"])
    ex, book = venue.exchange, venue.orders

    @router.post("/orders")
    async def create_order(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            return place(venue, ctx.account_id, ctx.body(), ctx.now_ms)

        return await venue.call(request, handle, private=True, permission=TRADE)

    @router.post("/orders/preview")
    async def preview_order(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            body = {"client_order_id": "preview", **ctx.body()}
            try:
                new = order_config.parse_new_order(
                    body, ctx.account_id, venue.by_product, ctx.now_ms
                )
                ex.check(new.request)
            except OrderFailure as failure:
                return preview_body([failure.preview_failure_reason], None)
            except Rejection as exc:
                return preview_body([errors.from_rejection(exc).preview_failure_reason], None)
            return preview_body([], new.request)

        return await venue.call(request, handle, private=True, permission=TRADE)

    def preview_body(errs: list[str], request: OrderRequest | None) -> dict[str, Any]:
        """What the order would cost at the touch (Coinbase's preview is an estimate too)."""
        base = quote = commission = ZERO
        bid = ask = ""
        if request is not None:
            inst, engine = ex.instruments[request.symbol], ex.engine(request.symbol)
            best_bid, best_ask = engine.book.bids.best(), engine.book.asks.best()
            bid = "" if best_bid is None else plain(best_bid.price)
            ask = "" if best_ask is None else plain(best_ask.price)
            touch = best_ask if request.side is Side.BUY else best_bid
            price = request.price or (touch.price if touch is not None else ZERO)
            if request.quantity is not None:
                base, quote = request.quantity, request.quantity * price
            elif request.quote_quantity is not None and price:
                base, quote = request.quote_quantity / price, request.quote_quantity
            commission = quote * inst.taker_fee
        return {
            "order_total": plain(quote + commission),
            "commission_total": plain(commission),
            "errs": errs,
            "warning": [],
            "quote_size": plain(quote),
            "base_size": plain(base),
            "best_bid": bid,
            "best_ask": ask,
            "is_max": False,
            "slippage": "0",
            "preview_id": str(uuid.uuid4()),
        }

    @router.post("/orders/batch_cancel")
    async def batch_cancel(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            return cancel(venue, ctx.account_id, ctx.body())

        return await venue.call(request, handle, private=True, permission=TRADE)

    @router.post("/orders/edit")
    async def edit_order(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            return edit(venue, ctx.account_id, ctx.body(), apply=True)

        return await venue.call(request, handle, private=True, permission=TRADE)

    @router.post("/orders/edit_preview")
    async def edit_preview(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            return edit(venue, ctx.account_id, ctx.body(), apply=False)

        return await venue.call(request, handle, private=True, permission=TRADE)

    @router.get("/orders/historical/batch")
    async def list_orders(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            statuses = set(ctx.query_list("order_status"))
            if statuses - STATUSES:
                raise errors.invalid(f"unknown order_status {sorted(statuses - STATUSES)}")
            if "OPEN" in statuses and len(statuses) > 1:
                raise errors.invalid("OPEN cannot be combined with other order statuses")
            products = set(ctx.query_list("product_ids")) | set(ctx.query_list("product_id"))
            order_ids = set(ctx.query_list("order_ids"))
            sides = set(ctx.query_list("order_side"))
            types = set(ctx.query_list("order_type"))
            start, end = ctx.query_time("start_date"), ctx.query_time("end_date")
            limit = ctx.query_int("limit", 100, 1, 1000)
            futures_only = ctx.query("product_type") == "FUTURE"

            def wanted(order: Order) -> bool:
                return (
                    not futures_only
                    and (not statuses or book.status(order) in statuses)
                    and (not products or wire.product_id(ex.instruments[order.symbol]) in products)
                    and (not order_ids or venue.ids.order(order.order_id) in order_ids)
                    and (not sides or order.side.value in sides)
                    and (not types or book.order_type(order) in types)
                    and (start is None or order.created_ms >= start)
                    and (end is None or order.created_ms <= end)
                )

            found, last = page(
                (o for o in book.of_account(ctx.account_id) if wanted(o)),
                lambda o: o.order_id,
                cursor_key(ctx.query("cursor"), 1),
                limit,
                descending=True,
            )
            return {
                "orders": [book.order_json(o) for o in found],
                "sequence": "0",
                "has_next": last is not None,
                "cursor": "" if last is None else str(last),
            }

        return await venue.call(request, handle, private=True)

    @router.get("/orders/historical/fills")
    async def list_fills(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            order_ids = set(ctx.query_list("order_ids")) | set(ctx.query_list("order_id"))
            trade_ids = set(ctx.query_list("trade_ids"))
            products = set(ctx.query_list("product_ids")) | set(ctx.query_list("product_id"))
            start = ctx.query_time("start_sequence_timestamp")
            end = ctx.query_time("end_sequence_timestamp")
            limit = ctx.query_int("limit", 100, 1, 1000)

            def wanted(order: Order, fill: Fill) -> bool:
                return (
                    (not order_ids or book.order_uuid(order) in order_ids)
                    and (not trade_ids or venue.ids.fill(order.symbol, fill.trade_id) in trade_ids)
                    and (not products or wire.product_id(ex.instruments[order.symbol]) in products)
                    and (start is None or fill.time_ms >= start)
                    and (end is None or fill.time_ms <= end)
                )

            fills = sorted(
                (
                    (leg, f)
                    for o in book.of_account(ctx.account_id)
                    for leg in book.legs(o)
                    for f in leg.fills
                    if wanted(leg, f)
                ),
                key=fill_key,
                reverse=True,
            )
            found, last = page(
                fills,
                fill_key,
                cursor_key(ctx.query("cursor"), 3),
                limit,
                descending=True,
            )
            cursor = "" if last is None else "-".join(map(str, last))
            return {"fills": [book.fill_json(o, f) for o, f in found], "cursor": cursor}

        return await venue.call(request, handle, private=True)

    @router.get("/orders/historical/{order_id}")
    async def get_order(request: Request, order_id: str) -> Response:
        async def handle(ctx: Ctx) -> Any:
            order = book.find(ctx.account_id, order_id)
            if order is None:
                raise errors.not_found(errors.ORDER_NOT_FOUND)
            return {"order": book.order_json(order)}

        return await venue.call(request, handle, private=True)

    return router
