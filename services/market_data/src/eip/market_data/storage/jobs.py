"""The ``backfill_jobs`` table: create, read, claim with a lease, advance, finish."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any, cast

from psycopg import AsyncConnection, sql

from eip.exchanges.contract.market_data import Timeframe
from eip.market_data.storage.records import BackfillJob, JobKind, JobStatus

_COLUMNS = (
    "id, exchange, symbol, kind, timeframe, range_start, range_end, cursor_time, status, pages,"
    " rows_fetched, rows_inserted, gaps, error, parent_id, created_at, updated_at, finished_at"
)


class JobNotRunning(Exception):
    """The job was cancelled or taken over while a page was in flight; the page is discarded."""


def _job(row: tuple[Any, ...]) -> BackfillJob:
    return BackfillJob(
        id=int(row[0]),
        exchange=row[1],
        symbol=row[2],
        kind=cast(JobKind, row[3]),
        timeframe=cast("Timeframe | None", row[4]),
        start=row[5],
        end=row[6],
        cursor=row[7],
        status=cast(JobStatus, row[8]),
        pages=int(row[9]),
        rows_fetched=int(row[10]),
        rows_inserted=int(row[11]),
        gaps=row[12],
        error=row[13],
        parent_id=row[14],
        created_at=row[15],
        updated_at=row[16],
        finished_at=row[17],
    )


def _table(schema: str) -> sql.Identifier:
    return sql.Identifier(schema, "backfill_jobs")


async def create(
    conn: AsyncConnection,
    schema: str,
    exchange: str,
    symbol: str,
    kind: JobKind,
    timeframe: Timeframe | None,
    start: datetime,
    end: datetime,
    parent_id: int | None = None,
) -> BackfillJob:
    cur = await conn.execute(
        sql.SQL(
            "INSERT INTO {} (exchange, symbol, kind, timeframe, range_start, range_end,"
            " cursor_time, parent_id) VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {}"
        ).format(_table(schema), sql.SQL(_COLUMNS)),
        (exchange, symbol, kind, timeframe, start, end, start, parent_id),
    )
    row = await cur.fetchone()
    assert row is not None
    return _job(row)


async def get(conn: AsyncConnection, schema: str, job_id: int) -> BackfillJob | None:
    cur = await conn.execute(
        sql.SQL("SELECT {} FROM {} WHERE id = %s").format(sql.SQL(_COLUMNS), _table(schema)),
        (job_id,),
    )
    row = await cur.fetchone()
    return None if row is None else _job(row)


async def list_jobs(
    conn: AsyncConnection, schema: str, status: JobStatus | None, limit: int
) -> list[BackfillJob]:
    where = sql.SQL("WHERE status = %s" if status else "")
    params: list[Any] = [status] if status else []
    cur = await conn.execute(
        sql.SQL("SELECT {} FROM {} {} ORDER BY id DESC LIMIT %s").format(
            sql.SQL(_COLUMNS), _table(schema), where
        ),
        [*params, limit],
    )
    return [_job(r) for r in await cur.fetchall()]


async def claim(
    conn: AsyncConnection, schema: str, lease: timedelta, owner: str
) -> BackfillJob | None:
    """Take the oldest queued job, or a running one whose worker stopped renewing its lease
    (it crashed): that is how interrupted jobs resume, from their committed cursor."""
    cur = await conn.execute(
        sql.SQL(
            "UPDATE {t} SET status = 'running', lease_until = now() + %s, lease_owner = %s,"
            " updated_at = now(), error = NULL"
            " WHERE id = (SELECT id FROM {t} WHERE status = 'queued'"
            " OR (status = 'running' AND lease_until < now())"
            " ORDER BY id LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING {c}"
        ).format(t=_table(schema), c=sql.SQL(_COLUMNS)),
        (lease, owner),
    )
    row = await cur.fetchone()
    return None if row is None else _job(row)


async def advance(
    conn: AsyncConnection,
    schema: str,
    job_id: int,
    cursor: datetime,
    fetched: int,
    inserted: int,
    lease: timedelta,
    owner: str,
) -> None:
    """Record a page; run it in the transaction that stored the page's rows."""
    cur = await conn.execute(
        sql.SQL(
            "UPDATE {} SET cursor_time = %s, pages = pages + 1, rows_fetched = rows_fetched + %s,"
            " rows_inserted = rows_inserted + %s, lease_until = now() + %s, updated_at = now()"
            " WHERE id = %s AND status = 'running' AND lease_owner = %s"
        ).format(_table(schema)),
        (cursor, fetched, inserted, lease, job_id, owner),
    )
    if cur.rowcount != 1:
        raise JobNotRunning(f"backfill job {job_id} was cancelled or taken over")


async def finish(
    conn: AsyncConnection,
    schema: str,
    job_id: int,
    owner: str,
    status: JobStatus,
    error: str | None = None,
    gaps: int | None = None,
) -> None:
    await conn.execute(
        sql.SQL(
            "UPDATE {} SET status = %s, error = %s, gaps = COALESCE(%s, gaps),"
            " lease_until = NULL, updated_at = now(), finished_at = now()"
            " WHERE id = %s AND status = 'running' AND lease_owner = %s"
        ).format(_table(schema)),
        (status, error, gaps, job_id, owner),
    )


async def cancel(conn: AsyncConnection, schema: str, job_id: int) -> bool:
    cur = await conn.execute(
        sql.SQL(
            "UPDATE {} SET status = 'cancelled', lease_until = NULL, updated_at = now(),"
            " finished_at = now() WHERE id = %s AND status IN ('queued', 'running')"
        ).format(_table(schema)),
        (job_id,),
    )
    return cur.rowcount == 1
