"""Coinbase Advanced Trade market data over REST: products, the product book, best bid/ask,
candles and recent trades (``ticker``) — each public under ``/api/v3/brokerage/market/...`` and,
with a JWT, under ``/api/v3/brokerage/...`` (ccxt's ``usePrivate``), of the same books as the
WebSocket feed. Every number is a decimal string.

What is subtle:

- ``load_markets`` in ccxt asks ``products?product_type=FUTURE`` too; this spot-only venue
  answers it with no products (a spot product there would be parsed as a contract).
- Candles are newest first, ``start`` in unix seconds, at most 350 per request (Coinbase's
  limit); the range is ``[start, end)``.
- Recent trades are newest first with the taker's side, and ``best_bid``/``best_ask``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import Response

from eip.exchange_simulator.coinbase import currencies, errors, wire
from eip.exchange_simulator.coinbase.orders import plain
from eip.exchange_simulator.coinbase.venue import CoinbaseVenue, Ctx
from eip.exchange_simulator.core.candles import DAY_MS
from eip.exchange_simulator.core.decimals import fixed
from eip.exchange_simulator.core.instruments import Instrument

DEFAULT_BOOK_LIMIT = 100
MAX_BOOK_LIMIT = 10_000
MAX_CANDLES = 350
GRANULARITIES = {
    "ONE_MINUTE": ("1m", 60),
    "FIVE_MINUTE": ("5m", 300),
    "FIFTEEN_MINUTE": ("15m", 900),
    "THIRTY_MINUTE": ("30m", 1800),
    "ONE_HOUR": ("1h", 3600),
    "TWO_HOUR": ("2h", 7200),
    "SIX_HOUR": ("6h", 21600),
    "ONE_DAY": ("1d", 86400),
}
PUBLIC, PRIVATE = "/api/v3/brokerage/market", "/api/v3/brokerage"
Handler = Callable[[Ctx, dict[str, str]], Awaitable[Any]]


def unix_ms(ctx: Ctx, name: str) -> int | None:
    """A unix-seconds query parameter, in milliseconds."""
    raw = ctx.query(name)
    if raw is None:
        return None
    if not raw.isdigit():
        raise errors.invalid(f"{name} must be a unix time in seconds")
    return int(raw) * 1000


def market_router(venue: CoinbaseVenue) -> APIRouter:
    router = APIRouter(tags=["coinbase market data"])
    ex = venue.exchange

    def both(path: str, handler: Handler) -> None:
        """Serve ``handler`` publicly under /market and privately (with a JWT) beside it."""
        router.add_api_route(PUBLIC + path, endpoint(handler, private=False), methods=["GET"])
        router.add_api_route(PRIVATE + path, endpoint(handler, private=True), methods=["GET"])

    def endpoint(handler: Handler, private: bool) -> Callable[[Request], Awaitable[Response]]:
        async def serve(request: Request) -> Response:
            async def handle(ctx: Ctx) -> Any:
                return await handler(ctx, dict(request.path_params))

            return await venue.call(request, handle, private=private)

        return serve

    def product(inst: Instrument) -> dict[str, Any]:
        engine = ex.engine(inst.symbol)
        last = engine.last_price
        day = ex.history[inst.symbol].window(ex.now_ms(), DAY_MS)
        change = (
            (day.close - day.open) / day.open * 100 if day is not None and day.open else Decimal(0)
        )
        bid, ask = engine.book.bids.best(), engine.book.asks.best()
        mid = "" if bid is None or ask is None else plain((bid.price + ask.price) / 2)
        halted = inst.status != "TRADING"
        product_id = wire.product_id(inst)
        return {
            "product_id": product_id,
            "price": "" if last is None else fixed(last, inst.price_decimals),
            "price_percentage_change_24h": plain(change.quantize(Decimal("0.0001"))),
            "volume_24h": fixed(day.volume if day else Decimal(0), inst.qty_decimals),
            "volume_percentage_change_24h": "0",
            "base_increment": str(inst.step_size),
            "quote_increment": str(inst.tick_size),
            "quote_min_size": str(inst.min_notional),
            "quote_max_size": str(inst.max_notional),
            "base_min_size": str(inst.min_qty),
            "base_max_size": str(inst.max_qty),
            "base_name": currencies.name(inst.base),
            "quote_name": currencies.name(inst.quote),
            "watched": False,
            "is_disabled": False,
            "new": False,
            "status": "offline" if halted else "online",
            "cancel_only": False,
            "limit_only": False,
            "post_only": False,
            "trading_disabled": halted,
            "auction_mode": False,
            "product_type": "SPOT",
            "quote_currency_id": inst.quote,
            "base_currency_id": inst.base,
            "fcm_trading_session_details": None,
            "mid_market_price": mid,
            "alias": "",
            "alias_to": [],
            "base_display_symbol": inst.base,
            "quote_display_symbol": inst.quote,
            "view_only": False,
            "price_increment": str(inst.tick_size),
            "display_name": product_id,
            "product_venue": "CBE",
            "approximate_quote_24h_volume": plain(day.quote_volume if day else Decimal(0)),
        }

    def levels(rows: list[tuple[Decimal, Decimal]], inst: Instrument) -> list[dict[str, str]]:
        return [
            {"price": fixed(p, inst.price_decimals), "size": fixed(q, inst.qty_decimals)}
            for p, q in rows
        ]

    def pricebook(inst: Instrument, limit: int, now_ms: int) -> dict[str, Any]:
        _, bids, asks = ex.depth(inst.symbol, limit)
        return {
            "product_id": wire.product_id(inst),
            "bids": levels(bids, inst),
            "asks": levels(asks, inst),
            "time": wire.timestamp_us(now_ms),
        }

    async def products(ctx: Ctx, _: dict[str, str]) -> Any:
        wanted = set(ctx.query_list("product_ids"))
        futures = ctx.query("product_type") not in (None, "SPOT")
        listed = [
            product(inst)
            for product_id, inst in sorted(venue.by_product.items())
            if not futures and (not wanted or product_id in wanted)
        ]
        return {"products": listed, "num_products": len(listed)}

    async def one_product(ctx: Ctx, path: dict[str, str]) -> Any:
        return product(venue.instrument(path["product_id"]))

    async def product_book(ctx: Ctx, _: dict[str, str]) -> Any:
        inst = venue.instrument(ctx.query("product_id"))
        limit = ctx.query_int("limit", DEFAULT_BOOK_LIMIT, 1, MAX_BOOK_LIMIT)
        book = pricebook(inst, limit, ctx.now_ms)
        body: dict[str, Any] = {"pricebook": book}
        last = ex.engine(inst.symbol).last_price
        body["last"] = "" if last is None else fixed(last, inst.price_decimals)
        if book["bids"] and book["asks"]:
            best_bid, best_ask = (
                Decimal(book["bids"][0]["price"]),
                Decimal(book["asks"][0]["price"]),
            )
            spread, mid = best_ask - best_bid, (best_ask + best_bid) / 2
            body["mid_market"] = str(mid.normalize())
            body["spread_absolute"] = fixed(spread, inst.price_decimals)
            body["spread_bps"] = str((spread / mid * 10_000).quantize(Decimal("0.0001")))
        return body

    async def candles(ctx: Ctx, path: dict[str, str]) -> Any:
        inst = venue.instrument(path["product_id"])
        granularity = ctx.query("granularity") or ""
        if granularity not in GRANULARITIES:
            raise errors.invalid(f"granularity must be one of {sorted(GRANULARITIES)}")
        interval, seconds = GRANULARITIES[granularity]
        start, end = ctx.query("start"), ctx.query("end")
        if start is None or end is None or not start.isdigit() or not end.isdigit():
            raise errors.invalid("start and end are required, in unix seconds")
        start_s, end_s = int(start), int(end)
        limit = ctx.query_int("limit", MAX_CANDLES, 1, MAX_CANDLES)
        if end_s <= start_s:
            raise errors.invalid("start must be before end")
        if (end_s - start_s) // seconds > MAX_CANDLES:
            raise errors.invalid(
                f"start and end argument is invalid - number of candles requested should be "
                f"less than or equal to {MAX_CANDLES}"
            )
        rows = ex.history[inst.symbol].candles(interval, start_s * 1000, end_s * 1000 - 1, limit)
        return {
            "candles": [
                {
                    "start": str(c.open_time // 1000),
                    "low": fixed(c.low, inst.price_decimals),
                    "high": fixed(c.high, inst.price_decimals),
                    "open": fixed(c.open, inst.price_decimals),
                    "close": fixed(c.close, inst.price_decimals),
                    "volume": fixed(c.volume, inst.qty_decimals),
                }
                for c in reversed(rows)
            ]
        }

    async def market_trades(ctx: Ctx, path: dict[str, str]) -> Any:
        inst = venue.instrument(path["product_id"])
        limit = ctx.query_int("limit", 100, 1, 1000)
        start_ms, end_ms = (unix_ms(ctx, name) for name in ("start", "end"))
        trades: list[dict[str, str]] = []
        for trade in reversed(ex.history[inst.symbol].trades):
            if end_ms is not None and trade.time_ms >= end_ms:
                continue
            if (start_ms is not None and trade.time_ms < start_ms) or len(trades) == limit:
                break
            trades.append({**wire.market_trade(inst, trade), "bid": "", "ask": ""})
        book = ex.engine(inst.symbol).book
        bid, ask = book.bids.best(), book.asks.best()
        return {
            "trades": trades,
            "best_bid": "" if bid is None else fixed(bid.price, inst.price_decimals),
            "best_ask": "" if ask is None else fixed(ask.price, inst.price_decimals),
        }

    both("/products", products)
    both("/products/{product_id}", one_product)
    both("/products/{product_id}/candles", candles)
    both("/products/{product_id}/ticker", market_trades)
    both("/product_book", product_book)

    @router.get(PRIVATE + "/best_bid_ask")
    async def best_bid_ask(request: Request) -> Response:
        async def handle(ctx: Ctx) -> Any:
            wanted = ctx.query_list("product_ids") or sorted(venue.by_product)
            return {"pricebooks": [pricebook(venue.instrument(p), 1, ctx.now_ms) for p in wanted]}

        return await venue.call(request, handle, private=True)

    return router
