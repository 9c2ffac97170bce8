"""Kraken spot public REST (``GET /0/public/<Method>``): ``Time``, ``SystemStatus``, ``Assets``,
``AssetPairs``, ``Ticker``, ``Depth``, ``Trades`` and ``OHLC`` of the simulator's own books and
tape, under Kraken's names (see names.py): results are keyed by the pair's REST key
(``XXBTZUSD``) whichever name the request used, assets by their ids (``XXBT``).

Kraken answers HTTP 200 with ``{"error": [...], "result": {...}}``; errors are
``"<severity><category>:<text>"`` strings (errors.py).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from eip.exchange_simulator.core.candles import Candle
from eip.exchange_simulator.core.decimals import fixed
from eip.exchange_simulator.core.engine import TradeEvent
from eip.exchange_simulator.core.orders import OrderType, Side
from eip.exchange_simulator.kraken import errors, names
from eip.exchange_simulator.kraken.dialect import VENUE, KrakenDialect
from eip.exchange_simulator.kraken.errors import KrakenError
from eip.exchange_simulator.kraken.names import PairNames
from eip.exchange_simulator.kraken.private_api import error_body, unavailable
from eip.exchange_simulator.rest_faults import answer_with_faults

MAX_DEPTH = 500
MAX_TRADES = 1000
OHLC_ROWS = 720
# Kraken's OHLC intervals in minutes -> the core's candle intervals. 21600 (15 days) is not kept.
INTERVALS = {
    1: "1m",
    5: "5m",
    15: "15m",
    30: "30m",
    60: "1h",
    240: "4h",
    1440: "1d",
    10080: "1w",
}
DAY_MS = 24 * 3600 * 1000


def status_of(pair: PairNames) -> str:
    return "online" if pair.instrument.status == "TRADING" else "cancel_only"


def asset_pair(pair: PairNames) -> dict[str, Any]:
    inst = pair.instrument
    return {
        "altname": pair.altname,
        "wsname": pair.wsname,
        "aclass_base": "currency",
        "base": names.asset_id(inst.base),
        "aclass_quote": "currency",
        "quote": names.asset_id(inst.quote),
        "lot": "unit",
        "cost_decimals": names.decimals(inst.quote)[0],
        "pair_decimals": inst.price_decimals,
        "lot_decimals": inst.qty_decimals,
        "lot_multiplier": 1,
        "leverage_buy": [],
        "leverage_sell": [],
        # Flat fees (the instrument's), in percent, as Kraken lists its volume tiers.
        "fees": [[0, float(inst.taker_fee * 100)]],
        "fees_maker": [[0, float(inst.maker_fee * 100)]],
        "fee_volume_currency": "ZUSD",
        "margin_call": 80,
        "margin_stop": 40,
        "ordermin": str(inst.min_qty),
        "costmin": str(inst.min_notional),
        "tick_size": str(inst.tick_size),
        "status": status_of(pair),
    }


def ticker(dialect: KrakenDialect, pair: PairNames) -> dict[str, Any]:
    """``a``/``b``: [price, whole-lot volume, lot volume]; ``c``: last [price, volume];
    ``v``/``p``/``t``/``l``/``h``: [today, last 24 h]; ``o``: today's open (UTC day)."""
    ex, inst = dialect.exchange, pair.instrument
    engine, history = ex.engine(inst.symbol), ex.history[inst.symbol]
    now = ex.now_ms()
    day = history.window(now, now % DAY_MS or DAY_MS)
    rolling = history.window(now)
    last = history.last

    def px(value: Decimal | None) -> str:
        return fixed(value if value is not None else Decimal(0), inst.price_decimals)

    def vol(value: Decimal) -> str:
        return fixed(value, 8)

    def both(pick: Callable[[Candle], Any], empty: Any) -> list[Any]:
        return [pick(c) if c is not None else empty for c in (day, rolling)]

    def vwap(c: Candle) -> str:
        return px((c.quote_volume / c.volume).quantize(inst.tick_size)) if c.volume else px(None)

    bid, ask = engine.book.bids.best(), engine.book.asks.best()
    return {
        "a": [px(ask.price), str(int(ask.total)) or "0", vol(ask.total)]
        if ask
        else ["0", "0", "0"],
        "b": [px(bid.price), str(int(bid.total)) or "0", vol(bid.total)]
        if bid
        else ["0", "0", "0"],
        "c": [px(last.price), vol(last.qty)] if last else [px(None), vol(Decimal(0))],
        "v": both(lambda c: vol(c.volume), vol(Decimal(0))),
        "p": both(vwap, px(None)),
        "t": both(lambda c: c.trades, 0),
        "l": both(lambda c: px(c.low), px(None)),
        "h": both(lambda c: px(c.high), px(None)),
        "o": px(day.open) if day is not None else px(last.price if last else None),
    }


def taker_order_type(dialect: KrakenDialect, trade: TradeEvent) -> str:
    """``m``/``l``: whether the taker was a market or a limit order (the market's own noise
    trader sends market orders, recorded prints count as market)."""
    order = dialect.exchange.orders.get(trade.taker_order_id)
    if order is not None and order.effective_type is not OrderType.MARKET:
        return "limit"
    return "market"


def kraken_rest_router(dialect: KrakenDialect) -> APIRouter:
    router = APIRouter(prefix="/0/public", tags=["kraken public"])
    ex = dialect.exchange

    def one_pair(raw: str | None) -> PairNames:
        if raw is None:
            raise errors.invalid("pair")
        found = pairs_of(raw)
        if len(found) != 1:
            raise errors.invalid("pair")
        return found[0]

    def pairs_of(raw: str | None) -> list[PairNames]:
        if raw is None:
            return dialect.pairs.all()
        found = [dialect.pairs.find(name) for name in raw.split(",")]
        if not all(found):
            raise KrakenError(errors.UNKNOWN_PAIR)
        return [p for p in found if p is not None]

    async def answer(request: Request, compute: Callable[[], Any]) -> Response:
        async def respond() -> Response:
            try:
                return JSONResponse({"error": [], "result": compute()})
            except KrakenError as exc:
                return JSONResponse(error_body(exc.text))

        return await answer_with_faults(dialect.faults, request, VENUE, respond, unavailable)

    @router.get("/Time")
    async def time(request: Request) -> Response:
        def compute() -> dict[str, Any]:
            now = ex.now_ms()
            moment = datetime.fromtimestamp(now / 1000, UTC)
            return {
                "unixtime": now // 1000,
                "rfc1123": moment.strftime("%a, %d %b %y %H:%M:%S +0000"),
            }

        return await answer(request, compute)

    @router.get("/SystemStatus")
    async def system_status(request: Request) -> Response:
        def compute() -> dict[str, Any]:
            moment = datetime.fromtimestamp(ex.now_ms() / 1000, UTC)
            return {"status": "online", "timestamp": moment.strftime("%Y-%m-%dT%H:%M:%SZ")}

        return await answer(request, compute)

    @router.get("/Assets")
    async def assets(request: Request, asset: str | None = None) -> Response:
        def compute() -> dict[str, Any]:
            codes = sorted({a for i in ex.instruments.values() for a in (i.base, i.quote)})
            if asset is not None:
                wanted = {names.core_asset(a) for a in asset.split(",")}
                if not wanted <= set(codes):
                    raise KrakenError("EQuery:Unknown asset")
                codes = sorted(wanted)
            return {
                names.asset_id(code): {
                    "aclass": "currency",
                    "altname": names.altname(code),
                    "decimals": names.decimals(code)[0],
                    "display_decimals": names.decimals(code)[1],
                    "status": "enabled",
                }
                for code in codes
            }

        return await answer(request, compute)

    @router.get("/AssetPairs")
    async def asset_pairs(request: Request, pair: str | None = None) -> Response:
        return await answer(request, lambda: {p.key: asset_pair(p) for p in pairs_of(pair)})

    @router.get("/Ticker")
    async def ticker_(request: Request, pair: str | None = None) -> Response:
        return await answer(request, lambda: {p.key: ticker(dialect, p) for p in pairs_of(pair)})

    @router.get("/Depth")
    async def depth(request: Request, pair: str | None = None, count: str = "100") -> Response:
        def compute() -> dict[str, Any]:
            names_ = one_pair(pair)
            if not count.isdigit() or not 1 <= int(count) <= MAX_DEPTH:
                raise errors.invalid("count")
            inst = names_.instrument
            _, bids, asks = ex.depth(inst.symbol, int(count))
            seconds = ex.now_ms() // 1000

            def levels(side: list[tuple[Decimal, Decimal]]) -> list[list[Any]]:
                return [
                    [fixed(p, inst.price_decimals), fixed(q, inst.qty_decimals), seconds]
                    for p, q in side
                ]

            return {names_.key: {"asks": levels(asks), "bids": levels(bids)}}

        return await answer(request, compute)

    @router.get("/Trades")
    async def trades(
        request: Request, pair: str | None = None, since: str | None = None, count: str = "1000"
    ) -> Response:
        """Newest trades oldest first; ``since`` and ``last`` are nanosecond timestamps (``since``
        may also be seconds, as older clients send it)."""

        def compute() -> dict[str, Any]:
            names_ = one_pair(pair)
            if not count.isdigit() or not 1 <= int(count) <= MAX_TRADES:
                raise errors.invalid("count")
            since_ns = _since_ns(since)
            inst = names_.instrument
            tape = [t for t in ex.history[inst.symbol].trades if t.time_ms * 1_000_000 > since_ns]
            rows = tape[: int(count)] if since is not None else tape[-int(count) :]
            last_ns = rows[-1].time_ms * 1_000_000 if rows else since_ns
            return {
                names_.key: [
                    [
                        fixed(t.price, inst.price_decimals),
                        fixed(t.qty, 8),
                        t.time_ms / 1000,
                        "b" if t.taker_side is Side.BUY else "s",
                        taker_order_type(dialect, t)[0],
                        "",
                        t.trade_id,
                    ]
                    for t in rows
                ],
                "last": str(last_ns),
            }

        return await answer(request, compute)

    @router.get("/OHLC")
    async def ohlc(
        request: Request, pair: str | None = None, interval: str = "1", since: str | None = None
    ) -> Response:
        """[time, open, high, low, close, vwap, volume, count] oldest first, at most 720, the
        last one the current (still open) candle; ``last`` is the newest committed one."""

        def compute() -> dict[str, Any]:
            names_ = one_pair(pair)
            minutes = int(interval) if interval.isdigit() else -1
            if minutes not in INTERVALS:
                raise errors.invalid("interval")
            inst = names_.instrument
            start_ms = int(Decimal(since)) * 1000 if since and since.isdigit() else None
            candles = ex.history[inst.symbol].candles(INTERVALS[minutes], start_ms, None, 100_000)
            if start_ms is not None:
                candles = [c for c in candles if c.open_time > start_ms]
            candles = candles[-OHLC_ROWS:]
            rows = [_ohlc_row(c, inst.price_decimals) for c in candles]
            last = candles[-2].open_time // 1000 if len(candles) > 1 else 0
            return {names_.key: rows, "last": last}

        return await answer(request, compute)

    return router


def _since_ns(since: str | None) -> int:
    if since is None:
        return 0
    try:
        value = Decimal(since)
    except ArithmeticError:
        raise errors.invalid("since") from None
    # Nanoseconds since 1970 have 19 digits today; anything shorter is seconds.
    return int(value) if value >= 10**15 else int(value * 1_000_000_000)


def _ohlc_row(c: Candle, decimals: int) -> list[Any]:
    vwap = (
        (c.quote_volume / c.volume).quantize(Decimal(1).scaleb(-decimals)) if c.volume else c.close
    )
    return [
        c.open_time // 1000,
        fixed(c.open, decimals),
        fixed(c.high, decimals),
        fixed(c.low, decimals),
        fixed(c.close, decimals),
        fixed(vwap, decimals),
        fixed(c.volume, 8),
        c.trades,
    ]
