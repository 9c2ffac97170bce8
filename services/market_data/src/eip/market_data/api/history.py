"""History endpoints under ``/v1``: stored trades and candles, backfill jobs, gaps.

``history_router(get_service)`` is included by the app; ``get_service`` returns the running
``HistoryService`` (503 until its database is ready). Symbols are accepted as ``BTC/USDT`` or
``BTC-USDT``. Times are ISO 8601 with an offset; ranges are half-open [start, end). Reads take
a token with ``market:read``; creating, cancelling and repairing backfill jobs one with
``market:admin``.
"""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Path, Query

from eip.config import ConfigError
from eip.exchanges.contract.errors import ExchangeError, TransientExchangeError, UnknownExchange
from eip.exchanges.contract.market_data import TIMEFRAME_SECONDS, Timeframe, Trade
from eip.market_data.api.history_schemas import (
    BackfillJobOut,
    BackfillJobsOut,
    BackfillRequest,
    CandleOut,
    CandlesOut,
    GapOut,
    GapsOut,
    HistoryFreshness,
    RepairOut,
    TradeOut,
    TradesOut,
)
from eip.market_data.backfill import BackfillRunner
from eip.market_data.history import HistoryService
from eip.market_data.storage import BackfillJob, Gap, JobStatus, MarketDataStore
from eip.observability.http import ApiError, error_responses, excerpt
from eip.observability.inputs import Instant, Text
from eip.tokens import require_scope

Exchange = Annotated[Text, Query(min_length=1, max_length=40, pattern=r"^[a-z0-9_.-]+$")]
Symbol = Annotated[Text, Query(min_length=3, max_length=40)]
Start = Annotated[Instant, Query(description="inclusive, ISO 8601 with offset")]
End = Annotated[Instant, Query(description="exclusive, ISO 8601 with offset")]
JobId = Annotated[int, Path(ge=1, le=2**63 - 1)]
READ = [Depends(require_scope("market:read"))]
ADMIN = [Depends(require_scope("market:admin"))]


def _symbol(value: str) -> str:
    base, sep, quote = value.replace("-", "/", 1).partition("/")
    if not (sep and base and quote) or "/" in quote or "-" in quote:
        raise ApiError(
            422, "invalid_request", f"symbol {excerpt(value)} must be BASE/QUOTE or BASE-QUOTE"
        )
    return f"{base.upper()}/{quote.upper()}"


def _range(start: datetime, end: datetime, widest: timedelta | None = None) -> None:
    if start.tzinfo is None or end.tzinfo is None:
        raise ApiError(422, "invalid_request", "start and end need a UTC offset, e.g. Z")
    if start >= end:
        raise ApiError(422, "invalid_request", "start must be before end")
    if widest is not None and end - start > widest:
        raise ApiError(
            422,
            "range_too_large",
            f"the range may span at most {widest}; page through smaller ranges",
            {"max_seconds": widest.total_seconds()},
        )


def _money(value: Decimal) -> str:
    return format(value, "f")


def _freshness(
    as_of: datetime, exchange_times: list[datetime | None], received: list[datetime]
) -> HistoryFreshness:
    newest_exchange = max((t for t in exchange_times if t is not None), default=None)
    newest_received = max(received, default=None)
    newest = newest_exchange or newest_received
    return HistoryFreshness(
        as_of=as_of,
        newest_exchange_time=newest_exchange,
        newest_received_time=newest_received,
        age_s=None if newest is None else round((as_of - newest).total_seconds(), 3),
    )


def _encode_cursor(trade: Trade) -> str:
    key = f"{(trade.exchange_time or trade.received_time).isoformat()}|{trade.trade_id}"
    return base64.urlsafe_b64encode(key.encode()).decode()


def _decode_cursor(cursor: str) -> tuple[datetime, str]:
    try:
        moment, _, trade_id = base64.urlsafe_b64decode(cursor.encode()).decode().partition("|")
        at = datetime.fromisoformat(moment)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise ApiError(422, "invalid_request", "cursor is not one this API returned") from None
    if at.tzinfo is None or not trade_id:
        raise ApiError(422, "invalid_request", "cursor is not one this API returned")
    return at, trade_id


def job_out(job: BackfillJob) -> BackfillJobOut:
    return BackfillJobOut(
        id=job.id,
        exchange=job.exchange,
        symbol=job.symbol,
        kind=job.kind,
        timeframe=job.timeframe,
        start=job.start,
        end=job.end,
        status=job.status,
        cursor=job.cursor,
        percent=round(job.progress * 100, 2),
        pages=job.pages,
        rows_fetched=job.rows_fetched,
        rows_inserted=job.rows_inserted,
        gaps=job.gaps,
        error=job.error,
        parent_id=job.parent_id,
        created_at=job.created_at,
        updated_at=job.updated_at,
        finished_at=job.finished_at,
    )


def _gap_out(gap: Gap) -> GapOut:
    return GapOut(start=gap.start, end=gap.end, first_id=gap.first_id, last_id=gap.last_id)


def history_router(get_service: Callable[[], HistoryService]) -> APIRouter:
    router = APIRouter(prefix="/v1", tags=["market-data history"])

    def ready() -> tuple[HistoryService, MarketDataStore, BackfillRunner]:
        service = get_service()
        if service.store is None or service.runner is None:
            raise ApiError(
                503, "unavailable", "history storage is not ready yet", headers={"Retry-After": "2"}
            )
        return service, service.store, service.runner

    async def existing_job(store: MarketDataStore, job_id: int) -> BackfillJob:
        job = await store.job(job_id)
        if job is None:
            raise ApiError(404, "not_found", f"no backfill job {job_id}")
        return job

    @router.get("/trades", response_model=TradesOut, dependencies=READ)
    async def trades(
        exchange: Exchange,
        symbol: Symbol,
        start: Start,
        end: End,
        limit: Annotated[int, Query(ge=1, le=1000)] = 500,
        cursor: Annotated[Text | None, Query(max_length=200)] = None,
    ) -> TradesOut:
        """Stored trades with time (the venue's, else received) in [start, end), oldest first;
        ``next_cursor`` pages on."""
        service, store, _ = ready()
        _range(start, end, timedelta(days=service.settings.history_max_trades_range_days))
        after = _decode_cursor(cursor) if cursor else None
        name = _symbol(symbol)
        rows = await store.trades(exchange, name, start, end, limit + 1, after)
        page, more = rows[:limit], len(rows) > limit
        return TradesOut(
            exchange=exchange,
            symbol=name,
            start=start,
            end=end,
            trades=[
                TradeOut(
                    trade_id=t.trade_id,
                    price=_money(t.price),
                    amount=_money(t.amount),
                    taker_side=t.taker_side,
                    exchange_time=t.exchange_time,
                    received_time=t.received_time,
                )
                for t in page
            ],
            next_cursor=_encode_cursor(page[-1]) if more else None,
            freshness=_freshness(
                service.clock(),
                [t.exchange_time for t in page],
                [t.received_time for t in page],
            ),
        )

    @router.get("/candles", response_model=CandlesOut, dependencies=READ)
    async def candles(
        exchange: Exchange,
        symbol: Symbol,
        timeframe: Timeframe,
        start: Start,
        end: End,
    ) -> CandlesOut:
        """Candles opening in [start, end): native when stored, else rolled up from stored 1m
        candles; ``missing`` lists ended intervals not (fully) stored."""
        service, store, _ = ready()
        width = timedelta(seconds=TIMEFRAME_SECONDS[timeframe])
        _range(start, end, width * service.settings.history_max_candles)
        name = _symbol(symbol)
        now = service.clock()
        series = await store.candles(exchange, name, timeframe, start, end, now)
        return CandlesOut(
            exchange=exchange,
            symbol=name,
            timeframe=timeframe,
            start=start,
            end=end,
            source=series.source,
            complete=series.complete,
            expected=series.expected,
            missing=series.missing,
            candles=[
                CandleOut(
                    open_time=c.open_time,
                    open=_money(c.open),
                    high=_money(c.high),
                    low=_money(c.low),
                    close=_money(c.close),
                    base_volume=_money(c.base_volume),
                    quote_volume=None if c.quote_volume is None else _money(c.quote_volume),
                    trade_count=c.trade_count,
                    closed=c.closed,
                )
                for c in series.candles
            ],
            # a candle has no venue time of its own; its interval's end stands in for it
            freshness=_freshness(
                now,
                [min(c.open_time + width, now) for c in series.candles],
                [c.received_time for c in series.candles],
            ),
        )

    @router.post(
        "/backfill",
        response_model=BackfillJobOut,
        status_code=201,
        dependencies=ADMIN,
        responses=error_responses(502),
    )
    async def create_backfill(body: BackfillRequest) -> BackfillJobOut:
        """Queue a backfill job; the range's end is capped at now (history cannot run ahead).
        422 ``unknown_exchange`` or ``unknown_symbol`` (the venue does not list it): no job is
        made; 502 ``exchange_unavailable`` when the venue cannot be asked."""
        service, store, _ = ready()
        if (body.kind == "ohlcv") != (body.timeframe is not None):
            raise ApiError(
                422, "invalid_request", "ohlcv jobs need a timeframe; trades jobs take none"
            )
        end = min(body.end, service.clock())
        _range(body.start, end)
        name = _symbol(body.symbol)
        try:
            adapter = await service.adapter(body.exchange)
        except (UnknownExchange, ConfigError):
            raise ApiError(
                422, "unknown_exchange", f"no market-data adapter for {excerpt(body.exchange)}"
            ) from None
        try:
            listed: list[str] | None = await adapter.load_markets()
        except TransientExchangeError:
            raise ApiError(
                502, "exchange_unavailable", f"{body.exchange} cannot be asked for its markets now"
            ) from None
        except ExchangeError:
            listed = None  # the venue serves no listing to check against: the job reports it
        if listed is not None and name not in listed:
            raise ApiError(
                422,
                "unknown_symbol",
                f"{body.exchange} does not list {name}",
                {"exchange": body.exchange, "symbol": name},
            )
        job = await store.create_job(
            body.exchange, name, body.kind, body.timeframe, body.start, end
        )
        return job_out(job)

    @router.get("/backfill", response_model=BackfillJobsOut, dependencies=READ)
    async def list_backfill(
        status: JobStatus | None = None,
        limit: Annotated[int, Query(ge=1, le=500)] = 100,
    ) -> BackfillJobsOut:
        _, store, _ = ready()
        return BackfillJobsOut(jobs=[job_out(j) for j in await store.jobs(status, limit)])

    @router.get(
        "/backfill/{job_id}",
        response_model=BackfillJobOut,
        dependencies=READ,
        responses=error_responses(404),
    )
    async def get_backfill(job_id: JobId) -> BackfillJobOut:
        _, store, _ = ready()
        return job_out(await existing_job(store, job_id))

    @router.post(
        "/backfill/{job_id}/cancel",
        response_model=BackfillJobOut,
        dependencies=ADMIN,
        responses=error_responses(404, 409),
    )
    async def cancel_backfill(job_id: JobId) -> BackfillJobOut:
        _, store, _ = ready()
        job = await existing_job(store, job_id)
        if not await store.cancel_job(job_id):
            raise ApiError(409, "conflict", f"backfill job {job_id} already ended ({job.status})")
        return job_out(await existing_job(store, job_id))

    @router.post(
        "/backfill/{job_id}/repair",
        response_model=RepairOut,
        dependencies=ADMIN,
        responses=error_responses(404, 409),
    )
    async def repair_backfill(job_id: JobId) -> RepairOut:
        """Look for gaps in the job's range and queue a repair job for each."""
        _, store, runner = ready()
        job = await existing_job(store, job_id)
        if job.status != "done":
            raise ApiError(409, "conflict", f"backfill job {job_id} is {job.status}, not done")
        gaps = await runner.gaps(job)
        repairs = await runner.repair(job)
        return RepairOut(
            job_id=job_id,
            gaps=[_gap_out(g) for g in gaps],
            repair_jobs=[job_out(j) for j in repairs],
        )

    @router.get("/gaps", response_model=GapsOut, dependencies=READ)
    async def gaps(
        exchange: Exchange,
        symbol: Symbol,
        kind: Literal["trades", "ohlcv"],
        start: Start,
        end: End,
        timeframe: Timeframe | None = None,
    ) -> GapsOut:
        """Holes in stored history: missing candle open times, or for trades jumps in
        sequential ids (venues configured so) or silences longer than the configured limit."""
        service, store, runner = ready()
        if (kind == "ohlcv") != (timeframe is not None):
            raise ApiError(422, "invalid_request", "kind=ohlcv needs a timeframe; trades none")
        widest = timedelta(days=service.settings.history_max_trades_range_days)
        if timeframe is not None:
            widest = timedelta(seconds=TIMEFRAME_SECONDS[timeframe]) * 50_000
        _range(start, end, widest)
        name = _symbol(symbol)
        method: Literal["candle_open_times", "trade_ids", "trade_silence"]
        if timeframe is not None:
            found = await store.candle_gaps(exchange, name, timeframe, start, end)
            method = "candle_open_times"
        else:
            sequential = exchange in runner.config.sequential_id_exchanges
            found = await store.trade_gaps(
                exchange,
                name,
                start,
                end,
                sequential_ids=sequential,
                max_quiet=runner.config.max_quiet,
            )
            method = "trade_ids" if sequential else "trade_silence"
        return GapsOut(
            exchange=exchange,
            symbol=name,
            kind=kind,
            timeframe=timeframe,
            start=start,
            end=end,
            method=method,
            gaps=[_gap_out(g) for g in found],
        )

    return router
