"""Backfill jobs: page through a venue's REST history into the store, resumable at any point.

Each page's rows and the job's cursor are committed in one transaction, so a worker killed at
any moment resumes from the last committed page: the page in flight is fetched again and its
rows, being keyed, are not stored twice. Pagination advances by time (``since`` = the newest
time seen) because that is what every venue's history accepts; the trades at that last instant
are fetched again and skipped by the store.
"""

from __future__ import annotations

import asyncio
import logging
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Protocol, TypeVar, runtime_checkable

from eip.exchanges import registry
from eip.exchanges.contract.errors import BadRequest, TransientExchangeError
from eip.exchanges.contract.market_data import MarketDataAdapter, Timeframe, Trade
from eip.market_data.metrics import BACKFILL_CROWDED_INSTANTS
from eip.market_data.storage import (
    BackfillJob,
    Gap,
    JobNotRunning,
    MarketDataStore,
    StoredCandle,
)
from eip.market_data.storage.timeframes import floor_to, step
from eip.resilience import RetryPolicy, retry_async

log = logging.getLogger(__name__)
T = TypeVar("T")
AdapterFor = Callable[[str], Awaitable[MarketDataAdapter]]
_MS = timedelta(milliseconds=1)


@dataclass(frozen=True)
class BackfillConfig:
    page_limit: int = 1000
    # a worker renews its lease with every page; a job whose lease ran out is taken over
    lease: timedelta = timedelta(seconds=30)
    retry: RetryPolicy = field(
        default_factory=lambda: RetryPolicy(attempts=8, base_delay_s=0.5, max_delay_s=30.0)
    )
    # errors worth another try after a backoff (network, 5xx, 429/418, open circuit); any
    # other error fails the job with its text
    transient: tuple[type[BaseException], ...] = (TransientExchangeError,)
    # errors that fail the job at once (the caller's mistake: bad symbol or parameters)
    permanent: tuple[type[BaseException], ...] = (BadRequest,)
    # venues whose trade ids are consecutive integers per symbol: gaps are id jumps (the
    # registry knows which; the service's settings say which to trust)
    sequential_id_exchanges: frozenset[str] = field(
        default_factory=registry.sequential_trade_id_exchanges
    )
    # elsewhere a gap is a silence between stored trades longer than this
    max_quiet: timedelta = timedelta(minutes=10)
    max_repair_jobs: int = 100


@runtime_checkable
class TradesById(Protocol):
    """An adapter that can also page trades by id (``fetch_trades_from_id``): no instant is too
    crowded to page past, unlike paging by time."""

    async def fetch_trades_from_id(
        self, symbol: str, from_id: int, limit: int | None = None
    ) -> list[Trade]: ...


class BackfillRunner:
    def __init__(
        self,
        store: MarketDataStore,
        adapter_for: AdapterFor,
        config: BackfillConfig | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.adapter_for = adapter_for
        self.config = config or BackfillConfig()
        self.clock = clock
        # names this worker in the jobs it holds: a worker that lost a lease cannot write
        self.owner = f"worker-{uuid.uuid4().hex[:12]}"

    async def run_pending(self, *, until_idle: bool = False, poll_s: float = 1.0) -> int:
        """Claim and run jobs one after another (queued ones, and running ones whose worker
        died); return how many ran. ``until_idle`` stops when none is left."""
        ran = 0
        while True:
            job = await self.store.claim_job(self.config.lease, self.owner)
            if job is None:
                if until_idle:
                    return ran
                await asyncio.sleep(poll_s)
                continue
            await self.run_job(job)
            ran += 1

    async def run_job(self, job: BackfillJob) -> None:
        """Run a claimed job to its end; its final state is in the job row."""
        log.info(
            "backfill job started",
            extra={"job_id": job.id, "exchange": job.exchange, "symbol": job.symbol},
        )
        try:
            adapter = await self.adapter_for(job.exchange)
            if job.kind == "trades":
                await self._trades(adapter, job)
            else:
                assert job.timeframe is not None
                await self._ohlcv(adapter, job, job.timeframe)
        except JobNotRunning:
            log.info("backfill job stopped: cancelled", extra={"job_id": job.id})
            return
        except Exception as exc:
            log.warning("backfill job failed", extra={"job_id": job.id, "error": repr(exc)})
            await self.store.finish_job(
                job.id, self.owner, "failed", error=f"{type(exc).__name__}: {exc}"
            )
            return
        gaps = await self.gaps(job)
        await self.store.finish_job(job.id, self.owner, "done", gaps=len(gaps))
        log.info("backfill job done", extra={"job_id": job.id, "gaps": len(gaps)})

    async def gaps(self, job: BackfillJob) -> list[Gap]:
        """Holes in the stored history of the job's range (see ``MarketDataStore``)."""
        end = min(job.end, self.clock())
        if job.kind == "ohlcv":
            assert job.timeframe is not None
            end = floor_to(end, job.timeframe)
            return await self.store.candle_gaps(
                job.exchange, job.symbol, job.timeframe, job.start, end
            )
        return await self.store.trade_gaps(
            job.exchange,
            job.symbol,
            job.start,
            end,
            sequential_ids=job.exchange in self.config.sequential_id_exchanges,
            max_quiet=self.config.max_quiet,
        )

    async def repair(self, job: BackfillJob) -> list[BackfillJob]:
        """Queue a child job re-fetching each gap of the job's range; return them."""
        gaps = (await self.gaps(job))[: self.config.max_repair_jobs]
        # a trade gap lies between two stored trades: fetch from the first through the second
        tail = _MS if job.kind == "trades" else timedelta(0)
        return [
            await self.store.create_job(
                job.exchange,
                job.symbol,
                job.kind,
                job.timeframe,
                gap.start,
                gap.end + tail,
                parent_id=job.id,
            )
            for gap in gaps
        ]

    async def _fetch(self, job: BackfillJob, call: Callable[[], Awaitable[T]]) -> T:
        async def attempt() -> T:
            try:
                return await call()
            except self.config.permanent:
                raise
            except self.config.transient as exc:
                # honour the venue's Retry-After before the jittered backoff adds its part
                wait = getattr(exc, "retry_after_s", None)
                if isinstance(wait, int | float) and wait > 0:
                    await asyncio.sleep(min(float(wait), self.config.retry.max_delay_s))
                raise

        def on_retry(attempt_no: int, exc: BaseException, delay: float) -> None:
            log.warning(
                "backfill fetch retry",
                extra={"job_id": job.id, "attempt": attempt_no, "error": repr(exc)},
            )

        return await retry_async(
            attempt,
            self.config.retry,
            retry_on=self.config.transient,
            give_up_on=self.config.permanent,
            on_retry=on_retry,
        )

    async def _trades(self, adapter: MarketDataAdapter, job: BackfillJob) -> None:
        since, limit, lease = job.cursor, self.config.page_limit, self.config.lease
        # after the first page (by time, from the committed cursor) adapters that can page by
        # id continue by id; a resumed job starts by time again from its cursor
        by_id = adapter if isinstance(adapter, TradesById) else None
        next_id: int | None = None
        while since < job.end:
            if by_id is not None and next_id is not None:
                call = partial(by_id.fetch_trades_from_id, job.symbol, next_id, limit)
            else:
                call = partial(adapter.fetch_trades, job.symbol, since, limit)
            page = await self._fetch(job, call)
            rows = [t for t in page if job.start <= (t.exchange_time or t.received_time) < job.end]
            if not page:
                await self.store.store_trades_page(job.id, self.owner, rows, job.end, lease)
                return
            newest = max(t.exchange_time or t.received_time for t in page)
            if by_id is not None and all(t.trade_id.isdigit() for t in page):
                next_id = max(int(t.trade_id) for t in page) + 1
                since = max(since, newest)
            else:
                # the next page starts at the newest instant seen (its trades come back and
                # are skipped); when a page brings nothing newer, step past that instant
                next_id = None
                if newest <= since and len(page) >= limit:
                    # a full page, all at one instant: a venue paging only by time cannot show
                    # what lies beyond it, so the rest of that millisecond is missing
                    BACKFILL_CROWDED_INSTANTS.labels(job.exchange).inc()
                    log.warning(
                        "backfill: more trades at one instant than a page holds; the rest of"
                        " that millisecond is missing",
                        extra={"job": job.id, "exchange": job.exchange, "instant": str(since)},
                    )
                since = newest if newest > since else since + _MS
            await self.store.store_trades_page(job.id, self.owner, rows, min(since, job.end), lease)

    async def _ohlcv(self, adapter: MarketDataAdapter, job: BackfillJob, tf: Timeframe) -> None:
        since, limit, lease = job.cursor, self.config.page_limit, self.config.lease
        width = step(tf)
        while since < job.end:
            page = await self._fetch(
                job, partial(adapter.fetch_ohlcv, job.symbol, tf, since, limit)
            )
            now = self.clock()
            rows = [
                StoredCandle(
                    exchange=job.exchange,
                    symbol=job.symbol,
                    timeframe=tf,
                    open_time=c.open_time,
                    open=c.open,
                    high=c.high,
                    low=c.low,
                    close=c.close,
                    base_volume=c.base_volume,
                    quote_volume=c.quote_volume,
                    trade_count=c.trade_count,
                    # venues also serve the interval still running: it stays open to updates
                    closed=c.open_time + width <= now,
                    received_time=now,
                )
                for c in page
                if job.start <= c.open_time < job.end
            ]
            if not page:
                await self.store.store_candles_page(job.id, self.owner, rows, job.end, lease)
                return
            newest = max(c.open_time for c in page) + width
            since = newest if newest > since else since + width
            await self.store.store_candles_page(
                job.id, self.owner, rows, min(since, job.end), lease
            )
