"""Binance spot public REST endpoints (``/api/v3``), plus the few other endpoints that ccxt's
``load_markets`` asks for (futures exchangeInfo, coin configuration), served empty or minimal
so that an unmodified client sees a spot-only exchange."""

from __future__ import annotations

import json
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from eip.exchange_simulator.binance import errors, wire
from eip.exchange_simulator.binance.errors import BinanceError
from eip.exchange_simulator.binance.tickers import book_ticker, ticker_24h
from eip.exchange_simulator.binance.venue import Ctx, Venue
from eip.exchange_simulator.core.candles import INTERVAL_MS
from eip.exchange_simulator.core.instruments import Instrument

ZERO = Decimal(0)


def _depth_weight(ctx: Ctx) -> int:
    limit = ctx.integer("limit", 100) or 100
    return 5 if limit <= 100 else 25 if limit <= 500 else 50 if limit <= 1000 else 250


def _symbols_param(ctx: Ctx) -> list[str] | None:
    raw = ctx.get("symbols")
    if raw is None:
        return None
    try:
        symbols = json.loads(raw)
    except ValueError:
        raise errors.invalid("symbols") from None
    if not isinstance(symbols, list) or not all(isinstance(s, str) for s in symbols):
        raise errors.invalid("symbols")
    return symbols


def _ticker_weight(ctx: Ctx) -> int:
    if ctx.get("symbol"):
        return 2
    symbols = _symbols_param(ctx)
    if symbols is None:
        return 80
    return 2 if len(symbols) <= 20 else 40 if len(symbols) <= 100 else 80


def public_router(venue: Venue) -> APIRouter:
    router = APIRouter(tags=["binance public"])
    ex = venue.exchange

    def instrument(ctx: Ctx, name: str = "symbol") -> Instrument:
        symbol = ctx.require(name)
        inst = ex.instruments.get(symbol)
        if inst is None:
            raise errors.error(errors.BAD_SYMBOL)
        return inst

    def selected(ctx: Ctx) -> list[Instrument] | None:
        """The instruments named by symbol= or symbols=, or None for all."""
        if ctx.get("symbol"):
            return [instrument(ctx)]
        symbols = _symbols_param(ctx)
        if symbols is None:
            return None
        out = []
        for symbol in symbols:
            if symbol not in ex.instruments:
                raise errors.error(errors.BAD_SYMBOL)
            out.append(ex.instruments[symbol])
        return out

    @router.get("/api/v3/ping")
    async def ping(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            return {}

        return await venue.call(request, handle)

    @router.get("/api/v3/time")
    async def server_time(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            return {"serverTime": ctx.now_ms}

        return await venue.call(request, handle)

    @router.get("/api/v3/exchangeInfo")
    async def exchange_info(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            chosen = selected(ctx) or list(ex.instruments.values())
            limits = venue.limiter.limits
            return {
                "timezone": "UTC",
                "serverTime": ctx.now_ms,
                "rateLimits": [
                    {
                        "rateLimitType": "REQUEST_WEIGHT",
                        "interval": "MINUTE",
                        "intervalNum": 1,
                        "limit": limits.weight_per_minute,
                    },
                    {
                        "rateLimitType": "ORDERS",
                        "interval": "SECOND",
                        "intervalNum": 10,
                        "limit": limits.orders_per_10s,
                    },
                    {
                        "rateLimitType": "ORDERS",
                        "interval": "DAY",
                        "intervalNum": 1,
                        "limit": limits.orders_per_day,
                    },
                ],
                "exchangeFilters": [],
                "symbols": [wire.instrument_json(i) for i in chosen],
            }

        return await venue.call(request, handle, weight=20)

    @router.get("/api/v3/depth")
    async def depth(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            inst = instrument(ctx)
            limit = ctx.integer("limit", 100, lo=1, hi=5000)
            assert limit is not None
            update_id, bids, asks = ex.depth(inst.symbol, limit)
            return {
                "lastUpdateId": update_id,
                "bids": [[wire.d8(p), wire.d8(q)] for p, q in bids],
                "asks": [[wire.d8(p), wire.d8(q)] for p, q in asks],
            }

        return await venue.call(request, handle, weight=_depth_weight)

    @router.get("/api/v3/trades")
    async def trades(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            inst = instrument(ctx)
            limit = ctx.integer("limit", 500, lo=1, hi=1000)
            assert limit is not None
            recent = list(ex.history[inst.symbol].trades)[-limit:]
            return [wire.trade_json(t) for t in recent]

        return await venue.call(request, handle, weight=25)

    @router.get("/api/v3/aggTrades")
    async def agg_trades(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            inst = instrument(ctx)
            limit = ctx.integer("limit", 500, lo=1, hi=1000)
            from_id = ctx.integer("fromId")
            start, end = ctx.integer("startTime"), ctx.integer("endTime")
            if start is not None and end is not None and end - start > 3_600_000:
                raise BinanceError(400, -1127, "More than 1 hours between startTime and endTime.")
            assert limit is not None
            found = [
                t
                for t in ex.history[inst.symbol].trades
                if (from_id is None or t.trade_id >= from_id)
                and (start is None or t.time_ms >= start)
                and (end is None or t.time_ms <= end)
            ]
            found = found[:limit] if (from_id is not None or start is not None) else found[-limit:]
            return [wire.agg_trade_json(t) for t in found]

        return await venue.call(request, handle, weight=4)

    @router.get("/api/v3/klines")
    async def klines(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            inst = instrument(ctx)
            interval = ctx.require("interval")
            if interval not in INTERVAL_MS:
                raise BinanceError(400, -1120, "Invalid interval.")
            limit = ctx.integer("limit", 500, lo=1, hi=1000)
            assert limit is not None
            candles = ex.history[inst.symbol].candles(
                interval,
                ctx.integer("startTime"),
                ctx.integer("endTime"),
                limit,
            )
            return [wire.kline_row(c) for c in candles]

        return await venue.call(request, handle, weight=2)

    @router.get("/api/v3/ticker/24hr")
    async def ticker(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            mini = (ctx.get("type") or "FULL") == "MINI"
            if ctx.get("symbol"):
                return ticker_24h(ex, instrument(ctx), ctx.now_ms, mini)
            chosen = selected(ctx) or list(ex.instruments.values())
            return [ticker_24h(ex, i, ctx.now_ms, mini) for i in chosen]

        return await venue.call(request, handle, weight=_ticker_weight)

    @router.get("/api/v3/ticker/price")
    async def ticker_price(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            def one(inst: Instrument) -> dict[str, Any]:
                last = ex.history[inst.symbol].last
                return {"symbol": inst.symbol, "price": wire.d8(last.price if last else ZERO)}

            if ctx.get("symbol"):
                return one(instrument(ctx))
            return [one(i) for i in (selected(ctx) or ex.instruments.values())]

        return await venue.call(request, handle, weight=lambda c: 2 if c.get("symbol") else 4)

    @router.get("/api/v3/ticker/bookTicker")
    async def book_ticker_endpoint(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            if ctx.get("symbol"):
                return book_ticker(ex, instrument(ctx))
            return [book_ticker(ex, i) for i in (selected(ctx) or ex.instruments.values())]

        return await venue.call(request, handle, weight=lambda c: 2 if c.get("symbol") else 4)

    # -- what an unmodified ccxt asks for besides spot -----------------------------------------

    @router.get("/fapi/v1/exchangeInfo")
    @router.get("/dapi/v1/exchangeInfo")
    async def no_derivatives(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            return {
                "timezone": "UTC",
                "serverTime": ctx.now_ms,
                "rateLimits": [],
                "exchangeFilters": [],
                "assets": [],
                "symbols": [],
            }

        return await venue.call(request, handle, weight=1)

    return router
