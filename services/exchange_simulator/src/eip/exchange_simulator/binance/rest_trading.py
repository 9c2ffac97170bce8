"""Binance spot signed REST endpoints: orders, cancel-replace, amend keepPriority, order lists
(OCO), open/all orders (the operations live in ``trading.py``, shared with the WebSocket API),
account, trades, and the legacy listenKey user-data stream management."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from eip.exchange_simulator.binance import wire
from eip.exchange_simulator.binance.trading import Trading
from eip.exchange_simulator.binance.user_streams import UserStreams
from eip.exchange_simulator.binance.venue import Ctx, Venue
from eip.exchange_simulator.core.accounts import Permission

TRADE, READ = Permission.TRADE, Permission.READ


def trading_router(venue: Venue, trading: Trading, user_streams: UserStreams) -> APIRouter:
    router = APIRouter(tags=["binance trading"])
    ex = venue.exchange

    def route(
        method: str,
        path: str,
        operation: Callable[[Ctx], Any],
        weight: int | Callable[[Ctx], int],
        permission: Permission,
    ) -> None:
        async def endpoint(request: Request) -> Response:
            async def handle(ctx: Ctx) -> Any:
                return operation(ctx)

            return await venue.call(
                request, handle, weight=weight, signed=True, permission=permission
            )

        router.add_api_route(path, endpoint, methods=[method], name=f"{method} {path}")

    # Orders, order lists, amendments: the operations the WebSocket API shares (trading.py).
    route("POST", "/api/v3/order", trading.place, 1, TRADE)
    route("POST", "/api/v3/order/test", trading.test, 1, TRADE)
    route("GET", "/api/v3/order", trading.status, 4, READ)
    route("DELETE", "/api/v3/order", trading.cancel, 1, TRADE)
    route("POST", "/api/v3/order/cancelReplace", trading.cancel_replace, 1, TRADE)
    route("PUT", "/api/v3/order/amend/keepPriority", trading.amend_keep_priority, 4, TRADE)
    route("GET", "/api/v3/openOrders", trading.open_orders, _open_orders_weight, READ)
    route("DELETE", "/api/v3/openOrders", trading.cancel_all, 1, TRADE)
    route("GET", "/api/v3/allOrders", trading.all_orders, 20, READ)
    route("POST", "/api/v3/orderList/oco", trading.place_oco, 1, TRADE)
    route("POST", "/api/v3/order/oco", lambda ctx: trading.place_oco(ctx, legacy=True), 1, TRADE)
    route("GET", "/api/v3/orderList", trading.order_list, 4, READ)
    route("GET", "/api/v3/allOrderList", trading.all_lists, 20, READ)
    route("GET", "/api/v3/openOrderList", trading.open_lists, 6, READ)
    route("DELETE", "/api/v3/orderList", trading.cancel_list, 1, TRADE)

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
            symbol = trading.known_symbol(ctx)
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


def _open_orders_weight(ctx: Ctx) -> int:
    return 6 if ctx.get("symbol") else 80
