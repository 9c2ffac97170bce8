"""Binance spot signed REST endpoints: orders, cancel-replace, open/all orders, account, trades,
and the legacy listenKey user-data stream management."""

from __future__ import annotations

import secrets
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from eip.exchange_simulator.binance import errors, wire
from eip.exchange_simulator.binance.errors import BinanceError
from eip.exchange_simulator.binance.user_streams import UserStreams
from eip.exchange_simulator.binance.venue import Ctx, Venue
from eip.exchange_simulator.core.accounts import Permission
from eip.exchange_simulator.core.exchange import OrderRequest
from eip.exchange_simulator.core.orders import (
    Order,
    OrderType,
    Rejection,
    Side,
    TimeInForce,
)

TRADE, READ = Permission.TRADE, Permission.READ
_RESP_TYPES = {"ACK", "RESULT", "FULL"}


def parse_order(ctx: Ctx, prefix: str = "") -> tuple[OrderRequest, str]:
    """A new-order request from Binance parameters, checked as Binance checks them."""
    symbol = ctx.require("symbol")
    side_raw = ctx.require("side")
    type_raw = ctx.require("type")
    try:
        side = Side(side_raw)
    except ValueError:
        raise BinanceError(400, -1117, "Invalid side.") from None
    try:
        order_type = OrderType(type_raw)
    except ValueError:
        raise BinanceError(400, -1116, "Invalid orderType.") from None
    tif_raw = ctx.get("timeInForce")
    tif: TimeInForce | None = None
    if tif_raw is not None:
        try:
            tif = TimeInForce(tif_raw)
        except ValueError:
            raise BinanceError(400, -1115, "Invalid timeInForce.") from None
    quantity = ctx.decimal("quantity")
    quote_qty = ctx.decimal("quoteOrderQty")
    price = ctx.decimal("price")
    stop = ctx.decimal("stopPrice")
    needs_tif = order_type in (
        OrderType.LIMIT,
        OrderType.STOP_LOSS_LIMIT,
        OrderType.TAKE_PROFIT_LIMIT,
    )
    if needs_tif and tif is None:
        raise errors.mandatory("timeInForce")
    if not needs_tif and tif is not None and order_type is not OrderType.LIMIT_MAKER:
        raise BinanceError(400, -1114, "TimeInForce parameter sent when not required.")
    if order_type is OrderType.MARKET:
        if quantity is None and quote_qty is None:
            raise BinanceError(
                400,
                -1102,
                "Param 'quantity' or 'quoteOrderQty' must be sent, but both were empty/null!",
            )
        if quantity is not None and quote_qty is not None:
            raise BinanceError(400, -1128, "Combination of optional parameters invalid.")
        if price is not None:
            raise errors.not_required("price")
    else:
        if quantity is None:
            raise errors.mandatory("quantity")
        if quote_qty is not None:
            raise errors.not_required("quoteOrderQty")
    if order_type.has_limit_price and price is None:
        raise errors.mandatory("price")
    if not order_type.has_limit_price and order_type is not OrderType.MARKET and price is not None:
        raise errors.not_required("price")
    if order_type.is_conditional and stop is None:
        raise errors.mandatory("stopPrice")
    if not order_type.is_conditional and stop is not None:
        raise errors.not_required("stopPrice")
    resp_type = ctx.get("newOrderRespType") or (
        "FULL" if order_type in (OrderType.MARKET, OrderType.LIMIT) else "ACK"
    )
    if resp_type not in _RESP_TYPES:
        raise errors.invalid("newOrderRespType")
    client_id = ctx.get(f"{prefix}newClientOrderId")
    if client_id is not None and len(client_id) > 36:
        raise errors.invalid("newClientOrderId")
    request = OrderRequest(
        ctx.account_id,
        symbol,
        side,
        order_type,
        quantity,
        price,
        stop,
        quote_qty,
        tif if order_type is not OrderType.LIMIT_MAKER else None,
        client_id,
    )
    return request, resp_type


def trading_router(venue: Venue, user_streams: UserStreams) -> APIRouter:
    router = APIRouter(tags=["binance trading"])
    ex, limiter = venue.exchange, venue.limiter

    def known_symbol(ctx: Ctx) -> str:
        symbol = ctx.require("symbol")
        if symbol not in ex.instruments:
            raise errors.error(errors.BAD_SYMBOL)
        return symbol

    def lookup(ctx: Ctx, id_name: str = "orderId", client_name: str = "origClientOrderId") -> Order:
        symbol = known_symbol(ctx)
        order_id = ctx.integer(id_name)
        client_id = ctx.get(client_name)
        if order_id is None and client_id is None:
            raise BinanceError(
                400,
                -1102,
                f"Param '{id_name}' or '{client_name}' must be sent, but both were empty/null!",
            )
        order = ex.find_order(ctx.account_id, symbol, order_id, client_id)
        if order is None:
            raise errors.error(errors.NO_SUCH_ORDER)
        return order

    def count_order(ctx: Ctx) -> None:
        ten, day = limiter.count_order(ctx.account_id, ctx.now_ms)
        ctx.headers["X-MBX-ORDER-COUNT-10S"] = str(ten)
        ctx.headers["X-MBX-ORDER-COUNT-1D"] = str(day)

    def place(ctx: Ctx, prefix: str = "") -> dict[str, Any]:
        request, resp_type = parse_order(ctx, prefix)
        if request.symbol not in ex.instruments:
            raise errors.error(errors.BAD_SYMBOL)
        count_order(ctx)
        order = ex.place(request)
        return wire.new_order_json(order, resp_type, ex.now_ms())

    def cancel(ctx: Ctx, order: Order, cancel_client_id: str | None) -> dict[str, Any]:
        if not order.status.is_open:
            raise errors.error(errors.UNKNOWN_ORDER_CANCEL)
        new_id = cancel_client_id or secrets.token_urlsafe(16)[:22]
        order.cancel_client_order_id = new_id  # the cancel request's own id, as Binance reports it
        ex.cancel(ctx.account_id, order.symbol, order.order_id)
        body = wire.order_json(order)
        body.update(
            {
                "origClientOrderId": order.client_order_id,
                "clientOrderId": new_id,
                "transactTime": ex.now_ms(),
            }
        )
        for name in ("time", "updateTime", "isWorking", "workingTime", "icebergQty"):
            body.pop(name, None)
        return body

    @router.post("/api/v3/order")
    async def new_order(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            return place(ctx)

        return await venue.call(request, handle, signed=True, permission=TRADE)

    @router.post("/api/v3/order/test")
    async def test_order(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            order_request, _ = parse_order(ctx)
            ex.check(order_request)
            return {}

        return await venue.call(request, handle, signed=True, permission=TRADE)

    @router.get("/api/v3/order")
    async def get_order(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            return wire.order_json(lookup(ctx))

        return await venue.call(request, handle, weight=4, signed=True, permission=READ)

    @router.delete("/api/v3/order")
    async def cancel_order(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            try:
                order = lookup(ctx)
            except BinanceError as exc:
                if exc.code == -2013:
                    raise errors.error(errors.UNKNOWN_ORDER_CANCEL) from None
                raise
            return cancel(ctx, order, ctx.get("newClientOrderId"))

        return await venue.call(request, handle, signed=True, permission=TRADE)

    @router.post("/api/v3/order/cancelReplace")
    async def cancel_replace(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            mode = ctx.require("cancelReplaceMode")
            if mode not in ("STOP_ON_FAILURE", "ALLOW_FAILURE"):
                raise errors.invalid("cancelReplaceMode")
            parse_order(ctx)  # a malformed new order fails the whole request up front
            count_order(ctx)
            cancel_result: dict[str, Any]
            cancel_ok = True
            try:
                order = lookup(ctx, "cancelOrderId", "cancelOrigClientOrderId")
                cancel_result = cancel(ctx, order, ctx.get("cancelNewClientOrderId"))
            except (BinanceError, Rejection) as exc:
                err = exc if isinstance(exc, BinanceError) else errors.from_rejection(exc)
                if err.code == -2013:
                    err = errors.error(errors.UNKNOWN_ORDER_CANCEL)
                cancel_ok, cancel_result = False, err.body()
            new_result: dict[str, Any] | None = None
            new_ok = False
            if cancel_ok or mode == "ALLOW_FAILURE":
                try:
                    request_, resp_type = parse_order(ctx)
                    new_result = wire.new_order_json(ex.place(request_), resp_type, ex.now_ms())
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

        return await venue.call(request, handle, signed=True, permission=TRADE)

    @router.get("/api/v3/openOrders")
    async def open_orders(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            symbol = known_symbol(ctx) if ctx.get("symbol") else None
            return [wire.order_json(o) for o in ex.open_orders(ctx.account_id, symbol)]

        return await venue.call(
            request,
            handle,
            weight=lambda c: 6 if c.get("symbol") else 80,
            signed=True,
            permission=READ,
        )

    @router.delete("/api/v3/openOrders")
    async def cancel_all(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            symbol = known_symbol(ctx)
            orders = ex.open_orders(ctx.account_id, symbol)
            if not orders:
                raise errors.error(errors.UNKNOWN_ORDER_CANCEL)
            return [cancel(ctx, o, None) for o in orders]

        return await venue.call(request, handle, signed=True, permission=TRADE)

    @router.get("/api/v3/allOrders")
    async def all_orders(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            symbol = known_symbol(ctx)
            from_id = ctx.integer("orderId")
            start, end = ctx.integer("startTime"), ctx.integer("endTime")
            limit = ctx.integer("limit", 500, lo=1, hi=1000)
            assert limit is not None
            found = [
                o
                for o in ex.account_orders(ctx.account_id, symbol)
                if (from_id is None or o.order_id >= from_id)
                and (start is None or o.created_ms >= start)
                and (end is None or o.created_ms <= end)
            ]
            found = found[:limit] if from_id is not None else found[-limit:]
            return [wire.order_json(o) for o in found]

        return await venue.call(request, handle, weight=20, signed=True, permission=READ)

    @router.get("/api/v3/account")
    async def account(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            assert ctx.key is not None
            acct = ex.accounts[ctx.account_id]
            omit_zero = (ctx.get("omitZeroBalances") or "false").lower() == "true"
            inst = next(iter(ex.instruments.values()), None)
            maker = (
                acct.maker_fee
                if acct.maker_fee is not None
                else (inst.maker_fee if inst else Decimal("0.001"))
            )
            taker = (
                acct.taker_fee
                if acct.taker_fee is not None
                else (inst.taker_fee if inst else Decimal("0.001"))
            )
            balances = [
                {"asset": a, "free": wire.d8(b.free), "locked": wire.d8(b.locked)}
                for a, b in sorted(acct.balances.items())
                if not (omit_zero and b.total == 0)
            ]
            can_trade = Permission.TRADE in ctx.key.permissions
            return {
                "makerCommission": int(maker * 10000),
                "takerCommission": int(taker * 10000),
                "buyerCommission": 0,
                "sellerCommission": 0,
                "commissionRates": {
                    "maker": wire.d8(maker),
                    "taker": wire.d8(taker),
                    "buyer": wire.d8(Decimal(0)),
                    "seller": wire.d8(Decimal(0)),
                },
                "canTrade": can_trade,
                "canWithdraw": Permission.WITHDRAW in ctx.key.permissions,
                "canDeposit": True,
                "brokered": False,
                "requireSelfTradePrevention": False,
                "preventSor": False,
                "updateTime": acct.updated_ms,
                "accountType": "SPOT",
                "balances": balances,
                "permissions": ["SPOT"],
                "uid": abs(hash(acct.account_id)) % 10**9,
            }

        return await venue.call(request, handle, weight=20, signed=True, permission=READ)

    @router.get("/api/v3/myTrades")
    async def my_trades(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            symbol = known_symbol(ctx)
            order_id = ctx.integer("orderId")
            from_id = ctx.integer("fromId")
            start, end = ctx.integer("startTime"), ctx.integer("endTime")
            limit = ctx.integer("limit", 500, lo=1, hi=1000)
            assert limit is not None
            rows = sorted(
                (
                    (o, f)
                    for o in ex.account_orders(ctx.account_id, symbol)
                    for f in o.fills
                    if (order_id is None or o.order_id == order_id)
                ),
                key=lambda pair: pair[1].trade_id,
            )
            rows = [
                (o, f)
                for o, f in rows
                if (from_id is None or f.trade_id >= from_id)
                and (start is None or f.time_ms >= start)
                and (end is None or f.time_ms <= end)
            ]
            rows = rows[:limit] if (from_id is not None or start is not None) else rows[-limit:]
            return [wire.my_trade_json(o, f) for o, f in rows]

        return await venue.call(
            request,
            handle,
            weight=lambda c: 5 if c.get("orderId") else 20,
            signed=True,
            permission=READ,
        )

    # -- legacy user data stream (listenKey) --------------------------------------------------

    @router.post("/api/v3/userDataStream")
    async def create_listen_key(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            return {"listenKey": user_streams.create_listen_key(ctx.account_id, ctx.now_ms)}

        return await venue.call(request, handle, weight=2, api_key_only=True)

    @router.put("/api/v3/userDataStream")
    async def keepalive_listen_key(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            user_streams.keepalive(ctx.require("listenKey"), ctx.account_id, ctx.now_ms)
            return {}

        return await venue.call(request, handle, weight=2, api_key_only=True)

    @router.delete("/api/v3/userDataStream")
    async def close_listen_key(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            user_streams.close(ctx.require("listenKey"), ctx.account_id)
            return {}

        return await venue.call(request, handle, weight=2, api_key_only=True)

    @router.get("/sapi/v1/capital/config/getall")
    async def coins(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            acct = ex.accounts[ctx.account_id]
            assets = sorted({a for i in ex.instruments.values() for a in (i.base, i.quote)})
            return [
                {
                    "coin": a,
                    "name": a,
                    "free": wire.d8(acct.balance(a).free),
                    "locked": wire.d8(acct.balance(a).locked),
                    "depositAllEnable": True,
                    "withdrawAllEnable": True,
                    "trading": True,
                    "isLegalMoney": False,
                    "networkList": [],
                }
                for a in assets
            ]

        return await venue.call(request, handle, weight=10, signed=True, permission=READ)

    @router.get("/sapi/v1/account/apiRestrictions")
    async def api_restrictions(request: Request) -> Response:
        # What a key may do, as Binance reports it (USER_DATA). A spot-only venue: margin,
        # futures, options, transfers are always off.
        async def handle(ctx: Ctx) -> Any:
            assert ctx.key is not None
            perms = ctx.key.permissions
            return {
                "ipRestrict": bool(ctx.key.ip_allowlist),
                "createTime": ctx.key.created_ms,
                "enableReading": Permission.READ in perms,
                "enableSpotAndMarginTrading": Permission.TRADE in perms,
                "enableWithdrawals": Permission.WITHDRAW in perms,
                "enableInternalTransfer": False,
                "enableMargin": False,
                "enableFutures": False,
                "permitsUniversalTransfer": False,
                "enableVanillaOptions": False,
                "enablePortfolioMarginTrading": False,
            }

        return await venue.call(request, handle, weight=1, signed=True)

    @router.get("/sapi/v1/margin/allPairs")
    @router.get("/sapi/v1/margin/isolated/allPairs")
    async def margin_pairs(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            return []  # a spot-only venue: nothing is marginable

        return await venue.call(request, handle, weight=1, signed=True, permission=READ)

    return router
