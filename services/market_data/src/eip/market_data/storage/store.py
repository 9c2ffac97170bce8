"""``MarketDataStore``: the one way the market-data service reads and writes PostgreSQL.

Live ingestion and backfill both write through it: ``insert_trades`` (idempotent, COPY) and
``upsert_candles`` (in-progress candles update until closed). Partitions for the dates a batch
touches are created on demand, so backfilled history from years ago needs no preparation.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path

from psycopg import AsyncConnection, errors
from psycopg_pool import AsyncConnectionPool

from eip.exchanges.contract.market_data import Timeframe, Trade
from eip.market_data.storage import copy, jobs, queries
from eip.market_data.storage.records import (
    BackfillJob,
    CandleSeries,
    Gap,
    JobKind,
    JobStatus,
    StoredCandle,
)
from eip.storage import apply_migrations, ensure_time_partitions
from eip.storage.partitions import Interval, drop_partitions_before, partition_bounds

MIGRATIONS = Path(__file__).parent / "migrations"
_PARTITIONING: dict[str, Interval] = {"trades": "day", "candles": "month"}
_ONE_MICROSECOND = timedelta(microseconds=1)


class MarketDataStore:
    def __init__(self, pool: AsyncConnectionPool[AsyncConnection], schema: str) -> None:
        self.pool = pool
        self.schema = schema
        self._partitions: dict[str, set[datetime]] = {t: set() for t in _PARTITIONING}

    async def migrate(self) -> None:
        """Create or upgrade the tables; safe to run from several instances at once."""
        async with self.pool.connection() as conn:
            await apply_migrations(conn, MIGRATIONS, self.schema)

    # --- writes -------------------------------------------------------------------------

    async def insert_trades(self, trades: Sequence[Trade]) -> int:
        """Store trades, skipping those already stored; return how many were new."""
        if not trades:
            return 0
        await self.ensure_partitions("trades", [t.exchange_time or t.received_time for t in trades])
        async with self.pool.connection() as conn, conn.transaction():
            return await copy.copy_trades(conn, self.schema, trades)

    async def upsert_candles(self, candles: Sequence[StoredCandle]) -> int:
        """Store candles; an in-progress one is replaced by newer versions until a closed one
        arrives, and a closed one is never changed again. Returns rows inserted or updated."""
        if not candles:
            return 0
        await self.ensure_partitions("candles", [c.open_time for c in candles])
        async with self.pool.connection() as conn, conn.transaction():
            return await copy.upsert_candles(conn, self.schema, candles)

    # --- reads --------------------------------------------------------------------------

    async def trades(
        self,
        exchange: str,
        symbol: str,
        start: datetime,
        end: datetime,
        limit: int,
        after: tuple[datetime, str] | None = None,
    ) -> list[Trade]:
        """Trades with time (the venue's, else received) in [start, end), oldest first, at most
        ``limit``, after the ``(time, trade_id)`` key of the previous page's last trade."""
        async with self.pool.connection() as conn:
            return await queries.trades_page(
                conn, self.schema, exchange, symbol, start, end, limit, after
            )

    async def candles(
        self,
        exchange: str,
        symbol: str,
        timeframe: Timeframe,
        start: datetime,
        end: datetime,
        now: datetime | None = None,
    ) -> CandleSeries:
        """Candles opening in [start, end): native when stored, else rolled up from 1m; the
        series says which and lists the ended intervals it lacks."""
        async with self.pool.connection() as conn:
            return await queries.candle_series(
                conn,
                self.schema,
                exchange,
                symbol,
                timeframe,
                start,
                end,
                now or datetime.now(UTC),
            )

    async def candle_gaps(
        self, exchange: str, symbol: str, timeframe: Timeframe, start: datetime, end: datetime
    ) -> list[Gap]:
        async with self.pool.connection() as conn:
            return await queries.candle_gaps(
                conn, self.schema, exchange, symbol, timeframe, start, end
            )

    async def trade_gaps(
        self,
        exchange: str,
        symbol: str,
        start: datetime,
        end: datetime,
        *,
        sequential_ids: bool,
        max_quiet: timedelta,
    ) -> list[Gap]:
        async with self.pool.connection() as conn:
            return await queries.trade_gaps(
                conn, self.schema, exchange, symbol, start, end, sequential_ids, max_quiet
            )

    # --- partitions and retention -------------------------------------------------------

    async def ensure_partitions(self, table: str, times: Sequence[datetime]) -> None:
        """Create the partitions of ``table`` (trades, candles) that ``times`` fall into."""
        interval = _PARTITIONING[table]
        known = self._partitions[table]
        needed = {
            lower
            for moment in times
            for lower, _ in partition_bounds(moment, moment + _ONE_MICROSECOND, interval)
        } - known
        if not needed:
            return
        async with self.pool.connection() as conn:
            for lower in sorted(needed):
                await self._create_partitions(conn, table, lower, lower + _ONE_MICROSECOND)
        known.update(needed)

    async def _create_partitions(
        self, conn: AsyncConnection, table: str, start: datetime, end: datetime
    ) -> None:
        for attempt in range(3):
            try:
                async with conn.transaction():
                    await ensure_time_partitions(
                        conn, self.schema, table, start, end, _PARTITIONING[table]
                    )
                return
            except (errors.DuplicateTable, errors.UniqueViolation):
                # another writer or instance created the same partition at the same moment:
                # it exists now, look again
                if attempt == 2:
                    raise

    async def maintain(
        self,
        now: datetime,
        ahead: timedelta,
        trades_retention: timedelta | None,
        candles_retention: timedelta | None,
    ) -> list[str]:
        """Create partitions up to ``now + ahead``; drop those older than the retentions.

        Returns the dropped partitions' names. Run it periodically (the service does hourly).
        """
        dropped: list[str] = []
        async with self.pool.connection() as conn:
            for table, retention in (("trades", trades_retention), ("candles", candles_retention)):
                await self._create_partitions(conn, table, now, now + ahead)
                async with conn.transaction():
                    if retention is not None:
                        dropped += await drop_partitions_before(
                            conn, self.schema, table, now - retention
                        )
        for table in _PARTITIONING:
            # a dropped partition must be recreated on the next write into its range
            self._partitions[table].clear()
        return dropped

    # --- backfill jobs ------------------------------------------------------------------

    async def create_job(
        self,
        exchange: str,
        symbol: str,
        kind: JobKind,
        timeframe: Timeframe | None,
        start: datetime,
        end: datetime,
        parent_id: int | None = None,
    ) -> BackfillJob:
        async with self.pool.connection() as conn:
            return await jobs.create(
                conn, self.schema, exchange, symbol, kind, timeframe, start, end, parent_id
            )

    async def job(self, job_id: int) -> BackfillJob | None:
        async with self.pool.connection() as conn:
            return await jobs.get(conn, self.schema, job_id)

    async def jobs(self, status: JobStatus | None = None, limit: int = 100) -> list[BackfillJob]:
        async with self.pool.connection() as conn:
            return await jobs.list_jobs(conn, self.schema, status, limit)

    async def cancel_job(self, job_id: int) -> bool:
        """Cancel a queued or running job; False when it had already ended."""
        async with self.pool.connection() as conn:
            return await jobs.cancel(conn, self.schema, job_id)

    async def claim_job(self, lease: timedelta, owner: str) -> BackfillJob | None:
        """Take the oldest queued job or one whose worker's lease ran out, for ``owner``."""
        async with self.pool.connection() as conn:
            return await jobs.claim(conn, self.schema, lease, owner)

    async def store_trades_page(
        self,
        job_id: int,
        owner: str,
        trades: Sequence[Trade],
        cursor: datetime,
        lease: timedelta,
    ) -> int:
        """Store a backfill page and advance its job's cursor in ONE transaction: a crash
        before the commit loses both (the page is fetched again), after it neither."""
        await self.ensure_partitions("trades", [t.exchange_time or t.received_time for t in trades])
        async with self.pool.connection() as conn, conn.transaction():
            inserted = await copy.copy_trades(conn, self.schema, trades) if trades else 0
            await jobs.advance(
                conn, self.schema, job_id, cursor, len(trades), inserted, lease, owner
            )
            return inserted

    async def store_candles_page(
        self,
        job_id: int,
        owner: str,
        candles: Sequence[StoredCandle],
        cursor: datetime,
        lease: timedelta,
    ) -> int:
        await self.ensure_partitions("candles", [c.open_time for c in candles])
        async with self.pool.connection() as conn, conn.transaction():
            written = await copy.upsert_candles(conn, self.schema, candles) if candles else 0
            await jobs.advance(
                conn, self.schema, job_id, cursor, len(candles), written, lease, owner
            )
            return written

    async def finish_job(
        self,
        job_id: int,
        owner: str,
        status: JobStatus,
        error: str | None = None,
        gaps: int | None = None,
    ) -> None:
        async with self.pool.connection() as conn:
            await jobs.finish(conn, self.schema, job_id, owner, status, error, gaps)
