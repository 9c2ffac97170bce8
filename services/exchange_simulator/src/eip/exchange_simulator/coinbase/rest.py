"""Coinbase Advanced Trade public market REST (``/api/v3/brokerage/market``): products and the
product book, of the same books as the WebSocket feed. Every number is a decimal string."""

from __future__ import annotations

import asyncio
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from eip.exchange_simulator.coinbase import wire
from eip.exchange_simulator.core.decimals import fixed
from eip.exchange_simulator.core.exchange import Exchange
from eip.exchange_simulator.core.faults import Faults
from eip.exchange_simulator.core.instruments import Instrument

TIMEOUT_FAULT_SECONDS = 120.0
DEFAULT_BOOK_LIMIT = 100
MAX_BOOK_LIMIT = 10_000


def _not_found(message: str) -> JSONResponse:
    return JSONResponse(
        {"error": "NOT_FOUND", "error_details": message, "message": message}, status_code=404
    )


def _invalid(message: str) -> JSONResponse:
    return JSONResponse(
        {"error": "INVALID_ARGUMENT", "error_details": message, "message": message},
        status_code=400,
    )


def coinbase_rest_router(exchange: Exchange, faults: Faults) -> APIRouter:
    router = APIRouter(prefix="/api/v3/brokerage/market", tags=["coinbase public"])
    by_product = {wire.product_id(i): i for i in exchange.instruments.values()}

    def product(inst: Instrument) -> dict[str, Any]:
        last = exchange.engine(inst.symbol).last_price
        halted = inst.status != "TRADING"
        return {
            "product_id": wire.product_id(inst),
            "price": "" if last is None else fixed(last, inst.price_decimals),
            "base_increment": str(inst.step_size),
            "quote_increment": str(inst.tick_size),
            "price_increment": str(inst.tick_size),
            "base_min_size": str(inst.min_qty),
            "base_max_size": str(inst.max_qty),
            "quote_min_size": str(inst.min_notional),
            "quote_max_size": str(inst.max_notional),
            "base_currency_id": inst.base,
            "quote_currency_id": inst.quote,
            "base_display_symbol": inst.base,
            "quote_display_symbol": inst.quote,
            "status": "offline" if halted else "online",
            "trading_disabled": halted,
            "cancel_only": False,
            "limit_only": False,
            "post_only": False,
            "auction_mode": False,
            "product_type": "SPOT",
        }

    async def answer(request: Request, body: dict[str, Any]) -> JSONResponse:
        fault = faults.take_rest_fault(request.url.path)
        if fault is not None:
            if fault.mode == "timeout":
                await asyncio.sleep(TIMEOUT_FAULT_SECONDS)
            return JSONResponse(
                {"error": "INTERNAL", "error_details": "", "message": "internal error"},
                status_code=fault.status,
            )
        return JSONResponse(body)

    @router.get("/products")
    async def products(request: Request) -> JSONResponse:
        listed = [product(by_product[p]) for p in sorted(by_product)]
        return await answer(request, {"products": listed, "num_products": len(listed)})

    @router.get("/products/{product_id}")
    async def one_product(request: Request, product_id: str) -> JSONResponse:
        inst = by_product.get(product_id)
        if inst is None:
            return _not_found("ProductID is invalid")
        return await answer(request, product(inst))

    @router.get("/product_book")
    async def product_book(
        request: Request, product_id: str = "", limit: str = str(DEFAULT_BOOK_LIMIT)
    ) -> JSONResponse:
        inst = by_product.get(product_id)
        if inst is None:
            return _not_found("ProductID is invalid")
        if not limit.isdigit() or not 1 <= int(limit) <= MAX_BOOK_LIMIT:
            return _invalid("limit must be between 1 and 10000")
        _, bids, asks = exchange.depth(inst.symbol, int(limit))
        price_dp, qty_dp = inst.price_decimals, inst.qty_decimals
        body: dict[str, Any] = {
            "pricebook": {
                "product_id": product_id,
                "bids": [{"price": fixed(p, price_dp), "size": fixed(q, qty_dp)} for p, q in bids],
                "asks": [{"price": fixed(p, price_dp), "size": fixed(q, qty_dp)} for p, q in asks],
                "time": wire.timestamp_us(exchange.now_ms()),
            }
        }
        last = exchange.engine(inst.symbol).last_price
        body["last"] = "" if last is None else fixed(last, price_dp)
        if bids and asks:
            spread = asks[0][0] - bids[0][0]
            mid = (asks[0][0] + bids[0][0]) / 2
            body["mid_market"] = str(mid.normalize())
            body["spread_absolute"] = fixed(spread, price_dp)
            body["spread_bps"] = str((spread / mid * 10_000).quantize(Decimal("0.0001")))
        return await answer(request, body)

    return router
