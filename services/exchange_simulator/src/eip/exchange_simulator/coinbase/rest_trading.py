"""Coinbase Advanced Trade order endpoints (``/api/v3/brokerage/orders...``): create (and
preview), batch cancel, edit (and preview), one order, lists of orders and of fills.

Lists are newest first and paged with an opaque ``cursor`` that points just past the last item
returned (keyset paging: orders placed between two pages neither repeat nor shift a page), with
``has_next`` saying whether more match.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable
from decimal import Decimal
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import Response

from eip.exchange_simulator.coinbase import errors, order_config, wire
from eip.exchange_simulator.coinbase.errors import OrderFailure
from eip.exchange_simulator.coinbase.orders import plain
from eip.exchange_simulator.coinbase.venue import CoinbaseVenue, Ctx
from eip.exchange_simulator.core.accounts import Permission
from eip.exchange_simulator.core.exchange import OrderRequest
from eip.exchange_simulator.core.orders import Fill, Order, Rejection, Side

PREFIX = "/api/v3/brokerage"
TRADE = Permission.TRADE
MAX_CANCEL_IDS = 100
STATUSES = {"OPEN", "FILLED", "CANCELLED", "EXPIRED", "FAILED", "PENDING", "UNKNOWN_ORDER_STATUS"}
T = TypeVar("T")
ZERO = Decimal(0)


def page(
    items: Iterable[T], cursor_of: Callable[[T], str], cursor: str | None, limit: int
) -> tuple[list[T], str, bool]:
    """A page of ``items`` (newest first) after ``cursor``: (page, next cursor, has_next)."""
    it = iter(items)
    if cursor is not None:
        for item in it:
            if cursor_of(item) == cursor:
                break
        else:
            return [], "", False
    out: list[T] = []
    for item in it:
        if len(out) == limit:
            return out, cursor_of(out[-1]), True
        out.append(item)
    return out, "", False


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
        order = venue.exchange.place(new.request)
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
        ok = order is not None and order.status.is_open
        if order is not None and ok:
            venue.exchange.cancel(account_id, order.symbol, order.order_id)
        reason = "UNKNOWN_CANCEL_FAILURE_REASON" if ok else "UNKNOWN_CANCEL_ORDER"
        results.append({"success": ok, "failure_reason": reason, "order_id": order_uuid})
    return {"results": results}


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

            found, cursor, more = page(
                (o for o in book.of_account(ctx.account_id) if wanted(o)),
                lambda o: str(o.order_id),
                ctx.query("cursor"),
                limit,
            )
            return {
                "orders": [book.order_json(o) for o in found],
                "sequence": "0",
                "has_next": more,
                "cursor": cursor,
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
                    (not order_ids or venue.ids.order(order.order_id) in order_ids)
                    and (not trade_ids or venue.ids.fill(order.symbol, fill.trade_id) in trade_ids)
                    and (not products or wire.product_id(ex.instruments[order.symbol]) in products)
                    and (start is None or fill.time_ms >= start)
                    and (end is None or fill.time_ms <= end)
                )

            fills = sorted(
                ((o, f) for o in book.of_account(ctx.account_id) for f in o.fills if wanted(o, f)),
                key=lambda pair: (pair[1].time_ms, pair[0].order_id, pair[1].trade_id),
                reverse=True,
            )
            found, cursor, _ = page(
                fills,
                lambda pair: f"{pair[1].time_ms}-{pair[0].order_id}-{pair[1].trade_id}",
                ctx.query("cursor"),
                limit,
            )
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
