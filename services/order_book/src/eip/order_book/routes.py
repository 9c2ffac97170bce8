"""The HTTP API, ``/v1``. A symbol in a path is written with a dash (``BTC-USDT`` for
``BTC/USDT``) because a slash cannot travel in one path segment.

A book that is not in sync is never served: its levels may be wrong, so every endpoint that
reads levels answers 409 ``book_not_in_sync`` with the reason and the book's times. A book in
sync but quiet for longer than ``stale_after_s`` is served with ``stale: true``.

Reads take a token with ``books:read``, subscription changes one with ``books:admin``; the
token's subject is stored as who made a change (``updated_by``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response

from eip.book import L2Book
from eip.config import ConfigError
from eip.exchanges.contract.book_events import BookKey
from eip.exchanges.contract.errors import UnknownSymbol
from eip.observability.http import ApiError, error_responses, excerpt
from eip.observability.inputs import Text
from eip.order_book.analysis.clustering import buckets, tick_width, walls
from eip.order_book.analysis.consolidated import consolidate
from eip.order_book.analysis.depth import cumulative
from eip.order_book.analysis.slippage import estimate_fill
from eip.order_book.analysis.stats import book_stats
from eip.order_book.manager import BookState
from eip.order_book.schemas import (
    BookLevels,
    BookList,
    BookStatus,
    BucketOut,
    Clusters,
    Consolidated,
    ConsolidatedLevelOut,
    DepthChart,
    DepthPointOut,
    ImbalanceOut,
    LevelOut,
    Slippage,
    Stats,
    Subscription,
    SubscriptionOut,
    Subscriptions,
    VenueStatus,
    WallOut,
    Walls,
)
from eip.order_book.service import OrderBookService
from eip.runtime.change_requests import change_not_stored, request_actor
from eip.storage import DatabaseUnavailable
from eip.tokens import require_scope

router = APIRouter(prefix="/v1", tags=["order books"])

MAX_DEPTH = 5000
Depth = Annotated[int, Query(ge=1, le=MAX_DEPTH, description="levels per side")]
ExchangePath = Annotated[Text, Path(min_length=1, max_length=40)]
SymbolPath = Annotated[Text, Path(min_length=3, max_length=40, description="BTC-USDT")]
READ = [Depends(require_scope("books:read"))]
ADMIN = [Depends(require_scope("books:admin"))]
# What an operation that reads one book answers besides its levels (see _readable).
BOOK_ERRORS = error_responses(404, 409)


def dec(value: Decimal) -> str:
    return format(value, "f")  # str() could answer "1E+2"


def opt(value: Decimal | None) -> str | None:
    return None if value is None else dec(value)


def _service(request: Request) -> OrderBookService:
    service: OrderBookService = request.app.state.books
    return service


def _symbol(path_symbol: str) -> str:
    base, sep, quote = path_symbol.partition("-")
    if not (sep and base and quote) or "/" in path_symbol:
        raise ApiError(
            422,
            "invalid_request",
            f"symbol {excerpt(path_symbol)} must be written BASE-QUOTE, e.g. BTC-USDT",
        )
    return f"{base}/{quote}"


def _freshness(service: OrderBookService, state: BookState) -> dict[str, Any]:
    age_ms: int | None = None
    stale = True
    if state.received_time is not None:
        age = datetime.now(UTC) - state.received_time
        age_ms = int(age.total_seconds() * 1000)
        stale = age.total_seconds() > service.settings.stale_after_s
    return {
        "exchange": state.key.exchange,
        "symbol": state.key.symbol,
        "in_sync": state.in_sync,
        "stale": stale,
        "epoch": state.epoch,
        "sequence": state.sequence,
        "exchange_time": state.exchange_time,
        "received_time": state.received_time,
        "age_ms": age_ms,
    }


def _readable(request: Request, exchange: str, path_symbol: str) -> tuple[dict[str, Any], L2Book]:
    """The book if it may be served, with its freshness; 404 or 409 otherwise."""
    service = _service(request)
    symbol = _symbol(path_symbol)
    state = service.manager.get(BookKey(exchange, symbol))
    if state is None:
        subscribed = symbol in service.subscriptions().get(exchange, [])
        if subscribed:
            raise ApiError(
                409,
                "book_not_in_sync",
                f"{exchange} {symbol} is subscribed and waiting for its first snapshot",
                {"in_sync": False, "reason": "awaiting_snapshot"},
            )
        raise ApiError(404, "not_found", f"no book for {exchange} {symbol}")
    fresh = _freshness(service, state)
    if not state.in_sync or state.book is None:
        raise ApiError(
            409,
            "book_not_in_sync",
            f"{exchange} {symbol} is not in sync; it is not served until the next snapshot",
            {
                **fresh,
                "reason": state.desync_reason or "awaiting_snapshot",
                "detail": state.desync_detail,
                "exchange_time": opt_time(state.exchange_time),
                "received_time": opt_time(state.received_time),
            },
        )
    return fresh, state.book


def opt_time(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()


@router.get(
    "/books", summary="Every book the service keeps, with its sync status", dependencies=READ
)
async def list_books(request: Request) -> BookList:
    service = _service(request)
    return BookList(
        books=[
            BookStatus(
                **_freshness(service, s),
                desync_reason=s.desync_reason,
                desync_detail=s.desync_detail,
                bid_levels=s.book.bid_count if s.book is not None else 0,
                ask_levels=s.book.ask_count if s.book is not None else 0,
                snapshots=s.snapshots,
                deltas=s.deltas,
                desyncs=s.desyncs,
                dropped_deltas=s.dropped,
            )
            for s in service.manager.states()
        ]
    )


@router.get(
    "/books/{exchange}/{symbol}",
    summary="The book's top levels",
    dependencies=READ,
    responses=BOOK_ERRORS,
)
async def get_book(
    request: Request, exchange: ExchangePath, symbol: SymbolPath, depth: Depth = 20
) -> BookLevels:
    fresh, book = _readable(request, exchange, symbol)
    return BookLevels(
        **fresh, depth=depth, bids=book.bid_strings(depth), asks=book.ask_strings(depth)
    )


@router.get(
    "/books/{exchange}/{symbol}/depth-chart",
    summary="Cumulative depth per side",
    dependencies=READ,
    responses=BOOK_ERRORS,
)
async def depth_chart(
    request: Request, exchange: ExchangePath, symbol: SymbolPath, depth: Depth = 100
) -> DepthChart:
    fresh, book = _readable(request, exchange, symbol)

    def side(levels: list[tuple[Decimal, Decimal]]) -> list[DepthPointOut]:
        return [
            DepthPointOut(
                price=dec(p.price),
                size=dec(p.size),
                cumulative_size=dec(p.cumulative_size),
                cumulative_notional=dec(p.cumulative_notional),
            )
            for p in cumulative(levels)
        ]

    return DepthChart(**fresh, bids=side(book.bids(depth)), asks=side(book.asks(depth)))


@router.get(
    "/books/{exchange}/{symbol}/stats",
    summary="Spread, mid, micro-price, imbalance",
    dependencies=READ,
    responses=BOOK_ERRORS,
)
async def stats(
    request: Request,
    exchange: ExchangePath,
    symbol: SymbolPath,
    depths: Annotated[
        Text,
        Query(
            max_length=200,
            description="comma-separated depths for the imbalance",
            examples=["1,5,10"],
        ),
    ] = "1,5,10",
) -> Stats:
    wanted = _int_list(depths, "depths")
    fresh, book = _readable(request, exchange, symbol)
    deepest = max(wanted)
    s = book_stats(book.bids(deepest), book.asks(deepest), wanted)
    return Stats(
        **fresh,
        best_bid=_level(s.best_bid),
        best_ask=_level(s.best_ask),
        spread=opt(s.spread),
        spread_bps=opt(s.spread_bps),
        mid=opt(s.mid),
        micro_price=opt(s.micro_price),
        imbalance=[
            ImbalanceOut(
                depth=i.depth,
                bid_size=dec(i.bid_size),
                ask_size=dec(i.ask_size),
                imbalance=opt(i.imbalance),
            )
            for i in s.imbalances
        ],
    )


@router.get(
    "/books/{exchange}/{symbol}/slippage",
    summary="Average fill price and slippage of a market order of a given size or notional",
    dependencies=READ,
    responses=BOOK_ERRORS,
)
async def slippage(
    request: Request,
    exchange: ExchangePath,
    symbol: SymbolPath,
    side: Literal["buy", "sell"],
    size: Annotated[Decimal | None, Query(gt=0, description="base amount")] = None,
    notional: Annotated[Decimal | None, Query(gt=0, description="quote amount")] = None,
) -> Slippage:
    if (size is None) == (notional is None):
        raise ApiError(422, "invalid_request", "give exactly one of size or notional")
    fresh, book = _readable(request, exchange, symbol)
    f = estimate_fill(book.bids(), book.asks(), side, size=size, notional=notional)
    return Slippage(
        **fresh,
        side=side,
        requested_size=opt(size),
        requested_notional=opt(notional),
        filled_size=dec(f.filled_size),
        filled_notional=dec(f.filled_notional),
        average_price=opt(f.average_price),
        best_price=opt(f.best_price),
        worst_price=opt(f.worst_price),
        levels_used=f.levels_used,
        complete=f.complete,
        shortfall=dec(f.shortfall),
        slippage_vs_best=opt(f.slippage_vs_best),
        slippage_vs_best_bps=opt(f.slippage_vs_best_bps),
        slippage_vs_mid=opt(f.slippage_vs_mid),
        slippage_vs_mid_bps=opt(f.slippage_vs_mid_bps),
    )


@router.get(
    "/books/{exchange}/{symbol}/clusters",
    summary="Levels aggregated into price buckets",
    dependencies=READ,
    responses=BOOK_ERRORS,
)
async def clusters(
    request: Request,
    exchange: ExchangePath,
    symbol: SymbolPath,
    bucket: Annotated[Decimal | None, Query(gt=0, description="bucket width in price")] = None,
    ticks: Annotated[
        int | None, Query(ge=1, description="bucket width in the book's price increments")
    ] = None,
    depth: Depth = 500,
) -> Clusters:
    if (bucket is None) == (ticks is None):
        raise ApiError(422, "invalid_request", "give exactly one of bucket or ticks")
    fresh, book = _readable(request, exchange, symbol)
    width = bucket if bucket is not None else tick_width(book.price_decimals, ticks or 1)

    def out(
        levels: Iterable[tuple[Decimal, Decimal]], side: Literal["bids", "asks"]
    ) -> list[BucketOut]:
        return [
            BucketOut(
                price=dec(b.price), size=dec(b.size), notional=dec(b.notional), levels=b.levels
            )
            for b in buckets(list(levels), width, side)
        ]

    return Clusters(
        **fresh,
        width=dec(width),
        bids=out(book.bids(depth), "bids"),
        asks=out(book.asks(depth), "asks"),
    )


@router.get(
    "/books/{exchange}/{symbol}/walls",
    summary="Levels at least factor x the median size of their window neighbours on each side",
    dependencies=READ,
    responses=BOOK_ERRORS,
)
async def book_walls(
    request: Request,
    exchange: ExchangePath,
    symbol: SymbolPath,
    window: Annotated[int, Query(ge=1, le=100)] = 5,
    factor: Annotated[Decimal, Query(gt=0)] = Decimal(5),
    depth: Depth = 200,
) -> Walls:
    fresh, book = _readable(request, exchange, symbol)

    def out(levels: list[tuple[Decimal, Decimal]]) -> list[WallOut]:
        return [
            WallOut(
                price=dec(w.price),
                size=dec(w.size),
                neighbour_median=dec(w.neighbour_median),
                ratio=dec(w.ratio),
            )
            for w in walls(levels, window, factor)
        ]

    return Walls(
        **fresh,
        window=window,
        factor=dec(factor),
        bids=out(book.bids(depth)),
        asks=out(book.asks(depth)),
    )


@router.get(
    "/consolidated/{symbol}",
    summary="One book across exchanges; out-of-sync and stale exchanges are left out",
    dependencies=READ,
    responses=error_responses(404),
)
async def consolidated(request: Request, symbol: SymbolPath, depth: Depth = 20) -> Consolidated:
    service = _service(request)
    normalized = _symbol(symbol)
    states = service.manager.for_symbol(normalized)
    if not states:
        raise ApiError(404, "not_found", f"no exchange keeps a book for {normalized}")
    venues: list[VenueStatus] = []
    books = {}
    for state in states:
        fresh = _freshness(service, state)
        reason = None
        if not state.in_sync or state.book is None:
            reason = "not_in_sync"
        elif fresh["stale"]:
            reason = "stale"
        else:
            books[state.key.exchange] = (state.book.bids(depth), state.book.asks(depth))
        venues.append(VenueStatus(**fresh, included=reason is None, excluded_because=reason))
    merged = consolidate(books, depth)

    def out(levels: Iterable[Any]) -> list[ConsolidatedLevelOut]:
        return [
            ConsolidatedLevelOut(
                price=dec(lv.price),
                size=dec(lv.size),
                venues={ex: dec(size) for ex, size in lv.venues.items()},
            )
            for lv in levels
        ]

    return Consolidated(
        symbol=normalized,
        depth=depth,
        crossed=merged.crossed,
        exchanges=venues,
        bids=out(merged.bids),
        asks=out(merged.asks),
    )


@router.get("/subscriptions", summary="The symbols each exchange feed follows", dependencies=READ)
async def list_subscriptions(request: Request) -> Subscriptions:
    return _subscriptions(_service(request))


@router.post(
    "/subscriptions",
    status_code=202,
    summary="Follow a symbol (its book syncs soon); kept across restarts",
    dependencies=ADMIN,
    responses={200: {"model": Subscriptions, "description": "already subscribed"}},
)
async def add_subscription(
    request: Request, body: Subscription, response: Response
) -> Subscriptions:
    """The change is stored in PostgreSQL before the answer and applied at every start-up;
    422 ``unsupported_exchange``, or ``unknown_symbol`` when the venue does not list the symbol
    (nothing is stored then); 503 ``database_unavailable`` when the change cannot be stored
    (nothing changed then)."""
    service = _service(request)
    try:
        added = await service.add(body.exchange, body.symbol, request_actor(request))
    except ConfigError:
        raise ApiError(
            422, "unsupported_exchange", f"no book feed for exchange {excerpt(body.exchange)}"
        ) from None
    except UnknownSymbol:
        raise ApiError(
            422,
            "unknown_symbol",
            f"{excerpt(body.exchange)} does not list {excerpt(body.symbol)}",
            {"exchange": body.exchange, "symbol": body.symbol},
        ) from None
    except DatabaseUnavailable as exc:
        raise change_not_stored(exc) from None
    if not added:
        response.status_code = 200
    return _subscriptions(service)


@router.delete(
    "/subscriptions/{exchange}/{symbol}",
    status_code=204,
    summary="Stop following a symbol; kept across restarts",
    dependencies=ADMIN,
    responses=error_responses(404),
)
async def remove_subscription(
    request: Request, exchange: ExchangePath, symbol: SymbolPath
) -> Response:
    """Also removes a configured symbol, for good: the removal is stored and applied at every
    start-up until the symbol is added again. 503 ``database_unavailable`` when it cannot be
    stored (nothing changed then)."""
    try:
        removed = await _service(request).remove(exchange, _symbol(symbol), request_actor(request))
    except DatabaseUnavailable as exc:
        raise change_not_stored(exc) from None
    if not removed:
        raise ApiError(404, "not_found", f"{exchange} {symbol} is not subscribed")
    return Response(status_code=204)


def _subscriptions(service: OrderBookService) -> Subscriptions:
    current = service.subscriptions()
    entries = []
    for exchange, symbols in current.items():
        for symbol in symbols:
            change = service.runtime_change(exchange, symbol)
            entries.append(
                SubscriptionOut(
                    exchange=exchange,
                    symbol=symbol,
                    origin="config" if change is None else "runtime",
                    updated_at=None if change is None else change.updated_at,
                    updated_by=None if change is None else change.actor,
                )
            )
    return Subscriptions(subscriptions=current, entries=entries)


def _int_list(raw: str, name: str) -> list[int]:
    try:
        values = [int(part) for part in raw.split(",") if part.strip()]
    except ValueError:
        values = []
    if not values or any(not 1 <= v <= MAX_DEPTH for v in values):
        raise ApiError(
            422,
            "invalid_request",
            f"{name} must be comma-separated integers between 1 and {MAX_DEPTH}",
            [{"field": f"query.{name}", "problem": f"got {excerpt(raw)}"}],
        )
    return values


def _level(level: tuple[Decimal, Decimal] | None) -> LevelOut | None:
    return None if level is None else LevelOut(price=dec(level[0]), size=dec(level[1]))
