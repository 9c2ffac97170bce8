"""Lock out a source after repeated failed authentications, exactly across instances.

The failures live in PostgreSQL (``<schema>.auth_failures``), so N instances share one budget
instead of granting N. A failure is counted in one statement: an upsert on the source's row,
which PostgreSQL serializes per source, so concurrent failures on different instances each see
all those before them and exactly one of them is the failure that locks the source out. Times
come from PostgreSQL's clock, so instances with skewed clocks agree on the window.

A source is whatever the caller keys on (client IP + client id for token issue, client IP for
introspection). Locked out means ``limit`` failures within the last ``window_s``; it ends when
the ``limit``-th newest of them leaves the window.

Bounded storage: a row keeps at most ``limit + 1`` times; each failure also prunes a batch of
rows whose newest failure left the window (``SKIP LOCKED``, so instances never wait on each
other), and ``cleanup`` (run periodically) prunes every expired row and, if an attacker with
many addresses still leaves more than ``max_sources`` rows, evicts the oldest ones — as the
in-memory limiter before it did.

The limiter fails closed: if PostgreSQL is unavailable its errors propagate and the request is
refused with 503 ``database_unavailable`` rather than let through uncounted.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from psycopg import AsyncConnection, sql
from psycopg_pool import AsyncConnectionPool

log = logging.getLogger(__name__)

# Expired rows deleted by each failure: more than the one row a failure can add, so expired
# rows never pile up while failures keep coming.
PRUNE_BATCH = 100


@dataclass(frozen=True)
class FailureOutcome:
    # True for the one failure that brought the source to the limit.
    locks: bool
    # Seconds until the source may try again; None when it is not locked out.
    retry_after: int | None


class FailureLimiter:
    def __init__(
        self,
        pool: AsyncConnectionPool[AsyncConnection[Any]],
        schema: str,
        limit: int,
        window_s: float,
        max_sources: int = 100_000,
    ) -> None:
        self.pool = pool
        self.limit = limit
        self.window_s = window_s
        self.max_sources = max_sources
        self._window = timedelta(seconds=window_s)
        self._table = sql.Identifier(schema, "auth_failures")

    def _retry_after(self, failed_at: Sequence[datetime], now: datetime) -> int | None:
        recent = [t for t in failed_at if t > now - self._window]
        if len(recent) < self.limit:
            return None
        # Locked until the limit-th newest failure leaves the window.
        release = recent[-self.limit] + self._window
        return max(1, math.ceil((release - now).total_seconds()))

    async def retry_after(self, source: str) -> int | None:
        """Seconds until ``source`` may try again, or None when it is not locked out."""
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                sql.SQL(
                    "SELECT now(), coalesce((SELECT failed_at FROM {} WHERE source = %s), '{{}}')"
                ).format(self._table),
                (source,),
            )
            row = await cursor.fetchone()
        assert row is not None
        now, failed_at = row
        return self._retry_after(failed_at, now)

    async def fail(self, source: str) -> FailureOutcome:
        """Count a failure of ``source``."""
        async with self.pool.connection() as conn:
            # Keep the failures still in the window, at most `limit` of them, then add this one:
            # at most limit + 1 times, so "exactly limit" marks the failure that locks. Its time
            # is clock_timestamp(), read once the row lock is held, not the transaction's start
            # (now()): a failure that waited for the lock still lands last, keeping the array
            # in order.
            cursor = await conn.execute(
                sql.SQL(
                    "INSERT INTO {} AS f (source, failed_at, last_failed_at)"
                    " VALUES (%(source)s, ARRAY[clock_timestamp()], clock_timestamp())"
                    " ON CONFLICT (source) DO UPDATE SET"
                    " failed_at = ARRAY("
                    "   SELECT t FROM ("
                    "     SELECT t FROM unnest(f.failed_at) AS t WHERE t > now() - %(window)s"
                    "     ORDER BY t DESC LIMIT %(limit)s"
                    "   ) AS recent ORDER BY t"
                    " ) || clock_timestamp(),"
                    " last_failed_at = clock_timestamp()"
                    " RETURNING failed_at, clock_timestamp()"
                ).format(self._table),
                {"source": source, "window": self._window, "limit": self.limit},
            )
            row = await cursor.fetchone()
            await self._prune_expired(conn, PRUNE_BATCH)
        assert row is not None
        failed_at, now = row
        return FailureOutcome(
            locks=len(failed_at) == self.limit, retry_after=self._retry_after(failed_at, now)
        )

    async def succeed(self, source: str) -> None:
        async with self.pool.connection() as conn:
            await conn.execute(
                sql.SQL("DELETE FROM {} WHERE source = %s").format(self._table), (source,)
            )

    async def _prune_expired(self, conn: AsyncConnection[Any], batch: int) -> int:
        cursor = await conn.execute(
            sql.SQL(
                "DELETE FROM {table} WHERE source IN ("
                " SELECT source FROM {table} WHERE last_failed_at <= now() - %s"
                " ORDER BY last_failed_at LIMIT %s FOR UPDATE SKIP LOCKED)"
            ).format(table=self._table),
            (self._window, batch),
        )
        return cursor.rowcount

    async def cleanup(self, batch: int = 10_000) -> int:
        """Delete every expired row, then the oldest rows beyond ``max_sources``; returns how
        many rows went. Run periodically (every instance may; the deletes skip each other)."""
        removed = 0
        while True:
            async with self.pool.connection() as conn:
                pruned = await self._prune_expired(conn, batch)
            removed += pruned
            if pruned < batch:
                break
        async with self.pool.connection() as conn:
            cursor = await conn.execute(
                sql.SQL(
                    "DELETE FROM {table} WHERE source IN ("
                    " SELECT source FROM {table} ORDER BY last_failed_at DESC OFFSET %s"
                    " FOR UPDATE SKIP LOCKED)"
                ).format(table=self._table),
                (self.max_sources,),
            )
            evicted = cursor.rowcount
        if evicted > 0:
            # Only a flood of failing sources gets here: their lockouts are forgotten early.
            log.warning(
                "failed-authentication sources over the cap: oldest evicted",
                extra={"evicted": evicted, "max_sources": self.max_sources},
            )
        return removed + evicted
