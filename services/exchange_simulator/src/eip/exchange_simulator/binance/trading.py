"""Binance's trading operations, once for both transports: the REST endpoints (``rest_trading``)
and the WebSocket API (``ws_api``) hand each one an authenticated ``Ctx`` and send back what it
returns (or the ``BinanceError`` it raises), so ``POST /api/v3/order`` and ``order.place`` are
the same code, with the same order-count accounting.

Order lists: ``orderList/oco`` and the deprecated ``order/oco`` place an OCO (two orders count
towards the order rate limit, as on Binance); cancelling a leg cancels the list. Amendments:
``order/amend/keepPriority`` only lowers a quantity, keeps the order's place in the queue and
costs no order count; the client order id changes unless the same one is sent again.
"""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from eip.exchange_simulator.binance import errors, order_params, wire
from eip.exchange_simulator.binance.errors import BinanceError
from eip.exchange_simulator.binance.ratelimit import RateLimiter
from eip.exchange_simulator.binance.venue import Ctx
from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.orders import (
    AmendPriority,
    Order,
    OrderList,
    Rejection,
)


def _new_client_id() -> str:
    return secrets.token_urlsafe(16)[:22]


class Trading:
    def __init__(self, exchange: Exchange, limiter: RateLimiter) -> None:
        self.exchange = exchange
        self.limiter = limiter
        self._execution_ids = itertools.count(1)

    # -- lookups -------------------------------------------------------------------------------

    def known_symbol(self, ctx: Ctx) -> str:
        symbol = ctx.require("symbol")
        if symbol not in self.exchange.instruments:
            raise errors.error(errors.BAD_SYMBOL)
        return symbol

    def lookup(
        self, ctx: Ctx, id_name: str = "orderId", client_name: str = "origClientOrderId"
    ) -> Order:
        symbol = self.known_symbol(ctx)
        order_id = ctx.integer(id_name)
        client_id = ctx.get(client_name)
        if order_id is None and client_id is None:
            raise errors.either(id_name, client_name)
        order = self.exchange.find_order(ctx.account_id, symbol, order_id, client_id)
        if order is None:
            raise errors.error(errors.NO_SUCH_ORDER)
        return order

    def lookup_list(self, ctx: Ctx, client_name: str) -> OrderList:
        list_id = ctx.integer("orderListId")
        client_id = ctx.get(client_name)
        if list_id is None and client_id is None:
            raise errors.either("orderListId", client_name)
        found = self.exchange.find_list(ctx.account_id, list_id, client_id)
        if found is None:
            raise errors.error(errors.NO_SUCH_LIST)
        return found

    def count_order(self, ctx: Ctx, orders: int = 1) -> None:
        """Count new orders towards the account's limits (429 -1015 over them)."""
        counts = [self.limiter.count_order(ctx.account_id, ctx.now_ms) for _ in range(orders)]
        ten, day = counts[-1]
        ctx.headers["X-MBX-ORDER-COUNT-10S"] = str(ten)
        ctx.headers["X-MBX-ORDER-COUNT-1D"] = str(day)

    # -- single orders -------------------------------------------------------------------------

    def place(self, ctx: Ctx) -> dict[str, Any]:
        request, resp_type = order_params.parse_order(ctx)
        if request.symbol not in self.exchange.instruments:
            raise errors.error(errors.BAD_SYMBOL)
        self.count_order(ctx)
        order = self.exchange.place(request)
        return wire.new_order_json(order, resp_type, self.exchange.now_ms())

    def test(self, ctx: Ctx) -> dict[str, Any]:
        request, _ = order_params.parse_order(ctx)
        self.exchange.check(request)
        return {}

    def status(self, ctx: Ctx) -> dict[str, Any]:
        return wire.order_json(self.lookup(ctx))

    def cancel(self, ctx: Ctx) -> dict[str, Any]:
        try:
            order = self.lookup(ctx)
        except BinanceError as exc:
            if exc.code == -2013:
                raise errors.error(errors.UNKNOWN_ORDER_CANCEL) from None
            raise
        return self.cancel_order(ctx, order, ctx.get("newClientOrderId"))

    def cancel_order(self, ctx: Ctx, order: Order, cancel_client_id: str | None) -> dict[str, Any]:
        if not order.status.is_open:
            raise errors.error(errors.UNKNOWN_ORDER_CANCEL)
        new_id = cancel_client_id or _new_client_id()
        order.cancel_client_order_id = new_id  # the cancel request's own id, as Binance reports it
        self.exchange.cancel(ctx.account_id, order.symbol, order.order_id)
        body = wire.order_json(order)
        body.update(
            {
                "origClientOrderId": order.client_order_id,
                "clientOrderId": new_id,
                "transactTime": self.exchange.now_ms(),
            }
        )
        for name in ("time", "updateTime", "isWorking", "workingTime", "icebergQty"):
            body.pop(name, None)
        return body

    def cancel_replace(self, ctx: Ctx) -> dict[str, Any]:
        mode = ctx.require("cancelReplaceMode")
        if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
            raise errors.invalid("cancelReplaceMode")
        order_params.parse_order(ctx)  # a malformed new order fails the whole request up front
        self.count_order(ctx)
        cancel_result: dict[str, Any]
        cancel_ok = True
        try:
            order = self.lookup(ctx, "cancelOrderId", "cancelOrigClientOrderId")
            cancel_result = self.cancel_order(ctx, order, ctx.get("cancelNewClientOrderId"))
        except (BinanceError, Rejection) as exc:
            err = exc if isinstance(exc, BinanceError) else errors.from_rejection(exc)
            if err.code == -2013:
                err = errors.error(errors.UNKNOWN_ORDER_CANCEL)
            cancel_ok, cancel_result = False, err.body()
        new_result: dict[str, Any] | None = None
        new_ok = False
        if cancel_ok or mode == "ALLOW_FAILURE":
            try:
                request, resp_type = order_params.parse_order(ctx)
                placed = self.exchange.place(request)
                new_result = wire.new_order_json(placed, resp_type, self.exchange.now_ms())
                new_ok = True
            except (BinanceError, Rejection) as exc:
                err = exc if isinstance(exc, BinanceError) else errors.from_rejection(exc)
                new_result = err.body()
        data = {
            "cancelResult": "SUCCESS" if cancel_ok else "FAILURE",
            "newOrderResult": "SUCCESS"
            if new_ok
            else ("FAILURE" if new_result is not None else "NOT_ATTEMPTED"),
            "cancelResponse": cancel_result,
            "newOrderResponse": new_result,
        }
        if cancel_ok and new_ok:
            return data
        if cancel_ok or new_ok:
            raise BinanceError(409, -2021, "Order cancel-replace partially failed.", data=data)
        raise BinanceError(400, -2022, "Order cancel-replace failed.", data=data)

    def amend_keep_priority(self, ctx: Ctx) -> dict[str, Any]:
        order = self.lookup(ctx)
        new_qty = ctx.decimal("newQty", required=True)
        assert new_qty is not None
        new_client_id = order_params.client_id(ctx, "newClientOrderId") or _new_client_id()
        if not order.status.is_open:
            raise errors.error(errors.UNKNOWN_ORDER_CANCEL)
        assert order.quantity is not None
        if new_qty <= 0:
            raise errors.invalid("newQty")
        if new_qty > order.quantity:
            raise BinanceError(
                400, errors.AMEND_REJECTED, "Order amend (quantity increase) is not supported."
            )
        if new_qty == order.quantity:
            raise BinanceError(
                400, errors.AMEND_REJECTED, "The requested action would change no state; rejecting"
            )
        original = order.client_order_id
        self.exchange.amend(
            ctx.account_id,
            order.symbol,
            order.order_id,
            quantity=new_qty,
            client_order_id=new_client_id,
            priority=AmendPriority.KEEP_ON_DECREASE,
        )
        body: dict[str, Any] = {
            "transactTime": self.exchange.now_ms(),
            "executionId": next(self._execution_ids),
            "amendedOrder": wire.amended_order_json(order, original),
        }
        if order.list_id is not None:
            order_list = self.exchange.lists[order.list_id]
            status = wire.list_json(order_list)
            del status["listStatusType"], status["transactionTime"]
            body["listStatus"] = status
        return body

    def open_orders(self, ctx: Ctx) -> list[dict[str, Any]]:
        symbol = self.known_symbol(ctx) if ctx.get("symbol") else None
        return [wire.order_json(o) for o in self.exchange.open_orders(ctx.account_id, symbol)]

    def cancel_all(self, ctx: Ctx) -> list[dict[str, Any]]:
        symbol = self.known_symbol(ctx)
        orders = self.exchange.open_orders(ctx.account_id, symbol)
        if not orders:
            raise errors.error(errors.UNKNOWN_ORDER_CANCEL)
        return [self.cancel_order(ctx, o, None) for o in orders if o.status.is_open]

    def all_orders(self, ctx: Ctx) -> list[dict[str, Any]]:
        symbol = self.known_symbol(ctx)
        from_id = ctx.integer("orderId")
        start, end = ctx.integer("startTime"), ctx.integer("endTime")
        limit = ctx.integer("limit", 500, lo=1, hi=1000)
        assert limit is not None
        found = [
            o
            for o in self.exchange.account_orders(ctx.account_id, symbol)
            if (from_id is None or o.order_id >= from_id)
            and (start is None or o.created_ms >= start)
            and (end is None or o.created_ms <= end)
        ]
        found = found[:limit] if from_id is not None else found[-limit:]
        return [wire.order_json(o) for o in found]

    # -- order lists ---------------------------------------------------------------------------

    def place_oco(self, ctx: Ctx, legacy: bool = False) -> dict[str, Any]:
        parse = order_params.parse_legacy_oco if legacy else order_params.parse_oco
        request, resp_type = parse(ctx)
        symbol = self.known_symbol(ctx)
        order_params.check_oco_prices(request, self.exchange.engine(symbol).last_price)
        self.count_order(ctx, orders=2)
        order_list = self.exchange.place_list(request)
        now = self.exchange.now_ms()
        body = wire.list_json(order_list, None)
        body["orderReports"] = [wire.new_order_json(o, resp_type, now) for o in order_list.orders]
        return body

    def order_list(self, ctx: Ctx) -> dict[str, Any]:
        return wire.list_json(self.lookup_list(ctx, "origClientOrderId"))

    def all_lists(self, ctx: Ctx) -> list[dict[str, Any]]:
        from_id = ctx.integer("fromId")
        start, end = ctx.integer("startTime"), ctx.integer("endTime")
        if from_id is not None and (start is not None or end is not None):
            raise BinanceError(400, -1128, "Combination of optional parameters invalid.")
        limit = ctx.integer("limit", 500, lo=1, hi=1000)
        assert limit is not None
        found = [
            lst
            for lst in self.exchange.account_lists(ctx.account_id)
            if (from_id is None or lst.list_id >= from_id)
            and (start is None or lst.created_ms >= start)
            and (end is None or lst.created_ms <= end)
        ]
        found = found[:limit] if from_id is not None else found[-limit:]
        return [wire.list_json(lst) for lst in reversed(found)]

    def open_lists(self, ctx: Ctx) -> list[dict[str, Any]]:
        return [
            wire.list_json(lst)
            for lst in self.exchange.account_lists(ctx.account_id, open_only=True)
        ]

    def cancel_list(self, ctx: Ctx) -> dict[str, Any]:
        symbol = self.known_symbol(ctx)
        try:
            order_list = self.lookup_list(ctx, "listClientOrderId")
        except BinanceError:
            raise errors.error(errors.UNKNOWN_LIST_CANCEL) from None
        if order_list.symbol != symbol:
            raise errors.error(errors.UNKNOWN_LIST_CANCEL)
        cancel_id = ctx.get("newClientOrderId") or _new_client_id()
        for leg in order_list.orders:
            leg.cancel_client_order_id = cancel_id
        self.exchange.cancel_list(ctx.account_id, symbol, order_list.list_id)
        now = self.exchange.now_ms()
        body = wire.list_json(order_list)
        reports = []
        for leg in order_list.orders:
            report = wire.order_json(leg)
            report.update(
                {
                    "origClientOrderId": leg.client_order_id,
                    "clientOrderId": cancel_id,
                    "transactTime": now,
                }
            )
            for name in ("time", "updateTime", "isWorking", "workingTime", "icebergQty"):
                report.pop(name, None)
            reports.append(report)
        body["orderReports"] = reports
        return body
