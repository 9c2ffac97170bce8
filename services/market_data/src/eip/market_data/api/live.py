"""Live endpoints: tickers, the cross-exchange price, exchange status, subscriptions.

A symbol in a path is written with a dash (``BTC-USDT`` for ``BTC/USDT``), as in the
order-book service, because a slash cannot travel in one path segment. Every answer carrying
market data has ``freshness``: exchange time, received time, age and whether it is stale.

Reads take a token with ``market:read``, subscription changes one with ``market:admin``; the
token's subject is stored as who made a change (``updated_by``).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import ValidationError

from eip.config import ConfigError
from eip.exchanges.contract.errors import BadRequest, UnknownSymbol
from eip.exchanges.contract.market_data import ErrorNote, Ticker
from eip.market_data.api.schemas import (
    ContributionOut,
    CrossOut,
    ExchangeStatusOut,
    ExcludedOut,
    Freshness,
    LastError,
    QuoteOut,
    StatusOut,
    SubscriptionChange,
    SubscriptionOut,
    Subscriptions,
    TickerOut,
    Tickers,
)
from eip.market_data.live.service import LiveService
from eip.market_data.settings import SubscriptionConfig
from eip.observability.http import ApiError, error_responses, excerpt
from eip.observability.inputs import Text
from eip.observability.redaction import redact_text
from eip.runtime.change_requests import change_not_stored, request_actor
from eip.storage import DatabaseUnavailable
from eip.tokens import require_scope

router = APIRouter(prefix="/v1", tags=["live market data"])

READ = [Depends(require_scope("market:read"))]
ADMIN = [Depends(require_scope("market:admin"))]
ExchangePath = Annotated[Text, Path(min_length=1, max_length=40)]
SymbolPath = Annotated[Text, Path(min_length=3, max_length=40, description="BTC-USDT")]


def _live(request: Request) -> LiveService:
    live: LiveService = request.app.state.live
    return live


def path_symbol(value: str) -> str:
    base, sep, quote = value.partition("-")
    if not (sep and base and quote) or "/" in value or "-" in quote:
        raise ApiError(
            422,
            "invalid_request",
            f"symbol {excerpt(value)} must be written BASE-QUOTE, e.g. BTC-USDT",
        )
    return f"{base}/{quote}"


def query_symbol(value: str) -> str:
    """Query strings accept both ``BTC/USDT`` and ``BTC-USDT``."""
    return value if "/" in value else path_symbol(value)


def _opt(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def _freshness(
    exchange_time: datetime | None, received_time: datetime, now: datetime, stale_after_s: float
) -> Freshness:
    age = (now - received_time).total_seconds()
    return Freshness(
        exchange_time=exchange_time,
        received_time=received_time,
        age_ms=int(age * 1000),
        stale=age > stale_after_s,
    )


def _ticker(t: Ticker, now: datetime, stale_after_s: float) -> TickerOut:
    return TickerOut(
        exchange=t.exchange,
        symbol=t.symbol,
        bid=_opt(t.bid),
        bid_size=_opt(t.bid_size),
        ask=_opt(t.ask),
        ask_size=_opt(t.ask_size),
        last=_opt(t.last),
        open_24h=_opt(t.open_24h),
        high_24h=_opt(t.high_24h),
        low_24h=_opt(t.low_24h),
        base_volume_24h=_opt(t.base_volume_24h),
        quote_volume_24h=_opt(t.quote_volume_24h),
        freshness=_freshness(t.exchange_time, t.received_time, now, stale_after_s),
    )


@router.get("/tickers", response_model=Tickers, dependencies=READ)
async def tickers(
    request: Request,
    exchange: Annotated[Text | None, Query(min_length=1, max_length=40)] = None,
    symbol: Annotated[
        Text | None, Query(min_length=3, max_length=40, description="BTC/USDT or BTC-USDT")
    ] = None,
) -> Tickers:
    live = _live(request)
    wanted = None if symbol is None else query_symbol(symbol)
    now = datetime.now(UTC)
    return Tickers(
        tickers=[
            _ticker(t, now, live.settings.stale_after_s)
            for (ex, sym), t in sorted(live.tickers.items())
            if (exchange is None or ex == exchange) and (wanted is None or sym == wanted)
        ]
    )


@router.get(
    "/tickers/{exchange}/{symbol}",
    response_model=TickerOut,
    dependencies=READ,
    responses=error_responses(404),
)
async def ticker(request: Request, exchange: ExchangePath, symbol: SymbolPath) -> TickerOut:
    live = _live(request)
    sym = path_symbol(symbol)
    t = live.tickers.get((exchange, sym))
    if t is None:
        subscribed = SubscriptionConfig(exchange=exchange, symbol=sym, channel="ticker")
        waiting = subscribed in live.subscriptions()
        raise ApiError(
            404,
            "not_found",
            f"no ticker yet for {exchange} {sym}"
            if waiting
            else f"no ticker for {exchange} {sym}: not subscribed (POST /v1/subscriptions)",
            {"subscribed": waiting},
        )
    return _ticker(t, datetime.now(UTC), live.settings.stale_after_s)


@router.get(
    "/cross/{symbol}", response_model=CrossOut, dependencies=READ, responses=error_responses(404)
)
async def cross(request: Request, symbol: SymbolPath) -> CrossOut:
    live = _live(request)
    sym = path_symbol(symbol)
    now = datetime.now(UTC)
    view = live.cross.view(sym, now)
    if view is None:
        raise ApiError(404, "not_found", f"no exchange has sent data for {sym}")
    stale_after = live.settings.stale_after_s
    newest = max(view.contributions, key=lambda c: c.received_time, default=None)
    return CrossOut(
        symbol=view.symbol,
        as_of=view.as_of,
        best_bid=None
        if view.best_bid is None
        else QuoteOut(
            exchange=view.best_bid.exchange,
            price=format(view.best_bid.price, "f"),
            size=_opt(view.best_bid.size),
        ),
        best_ask=None
        if view.best_ask is None
        else QuoteOut(
            exchange=view.best_ask.exchange,
            price=format(view.best_ask.price, "f"),
            size=_opt(view.best_ask.size),
        ),
        vwap=_opt(view.vwap),
        volume=format(view.volume, "f"),
        window_s=view.window_s,
        freshness=None
        if newest is None
        else _freshness(newest.exchange_time, newest.received_time, now, stale_after),
        contributions=[
            ContributionOut(
                exchange=c.exchange,
                bid=_opt(c.bid),
                ask=_opt(c.ask),
                last=_opt(c.last),
                volume=format(c.volume, "f"),
                volume_share=_opt(c.volume_share),
                vwap=_opt(c.vwap),
                freshness=_freshness(c.exchange_time, c.received_time, now, stale_after),
            )
            for c in view.contributions
        ],
        excluded=[
            ExcludedOut(exchange=e.exchange, age_ms=int(e.age_s * 1000), reason=e.reason)
            for e in view.excluded
        ],
    )


def _last_error(note: ErrorNote | None) -> LastError | None:
    if note is None:
        return None
    return LastError(kind=note.kind, message=redact_text(note.message)[:500], time=note.time)


@router.get("/status", response_model=StatusOut, dependencies=READ)
async def status(request: Request) -> StatusOut:
    live = _live(request)
    return StatusOut(
        exchanges=[
            ExchangeStatusOut(
                exchange=h.status.exchange,
                connected=h.status.connected,
                last_message_age_s=h.status.last_message_age_s,
                messages_per_second=h.status.messages_per_second,
                errors=h.status.errors,
                stale=h.status.stale,
                circuit_open=h.status.circuit_open,
                rate_limit_headroom=h.status.rate_limit_headroom,
                restarts=h.restarts,
                last_error=_last_error(h.last_error),
                detail=redact_text(h.status.detail),
                clock_offset_s=live.clocks.offset(h.status.exchange),
                clock_offset_alarm=live.clocks.alarmed(h.status.exchange),
                filling_gap=live.gaps.holding(h.status.exchange),
            )
            for h in live.health()
        ],
        outbox_records=len(live.outbox),
        outbox_dropped=live.outbox.dropped,
        last_error=_last_error(live.last_error),
    )


@router.get("/subscriptions", response_model=Subscriptions, dependencies=READ)
async def list_subscriptions(request: Request) -> Subscriptions:
    """Each subscription with where it comes from: ``config``, or a ``runtime`` change (stored
    in PostgreSQL, with when and by whom)."""
    live = _live(request)
    out = []
    for sub in live.subscriptions():
        change = live.runtime_change(sub)
        out.append(
            SubscriptionOut(
                **sub.model_dump(),
                origin="config" if change is None else "runtime",
                updated_at=None if change is None else change.updated_at,
                updated_by=None if change is None else change.actor,
            )
        )
    return Subscriptions(subscriptions=out, pending=live.pending())


@router.post(
    "/subscriptions",
    response_model=SubscriptionChange,
    status_code=201,
    dependencies=ADMIN,
    responses={
        200: {"model": SubscriptionChange, "description": "already subscribed"},
        202: {"model": SubscriptionChange, "description": "pending: the exchange is unreachable"},
    },
)
async def add_subscription(
    request: Request, body: SubscriptionConfig, response: Response
) -> SubscriptionChange:
    """201 subscribed; 202 kept as pending while the exchange cannot be reached (retried in
    the background); 200 already subscribed. The change is stored before the answer and kept
    across restarts; 503 ``database_unavailable`` when it cannot be (nothing changed then).
    422 ``unsupported_exchange``, ``unknown_symbol`` (the venue does not list it) or
    ``rejected_by_exchange``: nothing is stored."""
    live = _live(request)
    exchange = {"exchange": body.exchange}  # at most 40 characters (SubscriptionConfig)
    try:
        changed = await live.add(body, request_actor(request))
    except ConfigError:
        raise ApiError(
            422, "unsupported_exchange", f"no market-data adapter for {excerpt(body.exchange)}"
        ) from None
    except UnknownSymbol:
        raise ApiError(
            422,
            "unknown_symbol",
            f"{excerpt(body.exchange)} does not list {excerpt(body.symbol)}",
            {**exchange, "symbol": body.symbol},
        ) from None
    except BadRequest as exc:
        raise ApiError(422, "rejected_by_exchange", str(exc), exchange) from None
    except DatabaseUnavailable as exc:
        raise change_not_stored(exc) from None
    pending = body in live.pending()
    if not changed:
        response.status_code = 200
    elif pending:
        response.status_code = 202
    return SubscriptionChange(subscription=body, changed=changed, pending=pending)


@router.delete(
    "/subscriptions",
    response_model=SubscriptionChange,
    dependencies=ADMIN,
    responses=error_responses(404),
)
async def remove_subscription(
    request: Request,
    exchange: Annotated[Text, Query(min_length=1, max_length=40)],
    symbol: Annotated[Text, Query(min_length=3, max_length=40, description="BTC/USDT or BTC-USDT")],
    channel: Annotated[Literal["trades", "ticker"], Query()],
) -> SubscriptionChange:
    """Also removes a configured subscription, for good: the removal is stored and applied
    at every start-up until the subscription is added again."""
    try:
        sub = SubscriptionConfig(exchange=exchange, symbol=query_symbol(symbol), channel=channel)
    except ValidationError:
        raise ApiError(
            422, "invalid_request", f"symbol {excerpt(symbol)} is not BASE/QUOTE"
        ) from None
    try:
        removed = await _live(request).remove(sub, request_actor(request))
    except DatabaseUnavailable as exc:
        raise change_not_stored(exc) from None
    if not removed:
        raise ApiError(
            404, "not_found", f"not subscribed: {excerpt(exchange)} {excerpt(sub.symbol)} {channel}"
        )
    return SubscriptionChange(subscription=sub, changed=True, pending=False)
