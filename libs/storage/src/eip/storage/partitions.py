"""Time-partitioned tables: create the partitions a time range needs, drop expired ones.

The parent is declared by a migration as ``PARTITION BY RANGE (<timestamptz column>)``; this
module adds children named ``<table>_pYYYYMMDD`` (daily) or ``<table>_pYYYYMM`` (monthly), so a
query with a time predicate touches only the partitions it needs and retention is a cheap DROP.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Literal

from psycopg import AsyncConnection, sql

Interval = Literal["day", "month"]


def partition_bounds(
    start: datetime, end: datetime, interval: Interval
) -> list[tuple[datetime, datetime]]:
    """Half-open [lower, upper) bounds of the partitions that cover [start, end)."""
    if start.tzinfo is None or end.tzinfo is None:
        raise ValueError("partition bounds need timezone-aware datetimes")
    lower = _floor(start.astimezone(UTC), interval)
    bounds: list[tuple[datetime, datetime]] = []
    while lower < end:
        upper = _next(lower, interval)
        bounds.append((lower, upper))
        lower = upper
    return bounds


def partition_name(table: str, lower: datetime, interval: Interval) -> str:
    suffix = lower.strftime("%Y%m%d" if interval == "day" else "%Y%m")
    return f"{table}_p{suffix}"


async def ensure_time_partitions(
    conn: AsyncConnection,
    schema: str,
    table: str,
    start: datetime,
    end: datetime,
    interval: Interval = "day",
) -> list[str]:
    """Create the missing partitions of ``schema.table`` covering [start, end); idempotent."""
    created: list[str] = []
    for lower, upper in partition_bounds(start, end, interval):
        name = partition_name(table, lower, interval)
        cursor = await conn.execute("SELECT to_regclass(%s)", (f"{schema}.{name}",))
        row = await cursor.fetchone()
        if row is not None and row[0] is not None:
            continue
        await conn.execute(
            sql.SQL(
                "CREATE TABLE IF NOT EXISTS {} PARTITION OF {} FOR VALUES FROM ({}) TO ({})"
            ).format(
                sql.Identifier(schema, name),
                sql.Identifier(schema, table),
                sql.Literal(lower),
                sql.Literal(upper),
            )
        )
        created.append(name)
    return created


async def drop_partitions_before(
    conn: AsyncConnection,
    schema: str,
    table: str,
    cutoff: datetime,
) -> list[str]:
    """Drop partitions whose whole range lies before ``cutoff`` (retention)."""
    cursor = await conn.execute(
        """
        SELECT c.relname, pg_get_expr(c.relpartbound, c.oid)
        FROM pg_inherits i
        JOIN pg_class c ON c.oid = i.inhrelid
        JOIN pg_class p ON p.oid = i.inhparent
        JOIN pg_namespace n ON n.oid = p.relnamespace
        WHERE n.nspname = %s AND p.relname = %s
        """,
        (schema, table),
    )
    dropped: list[str] = []
    for name, bound in await cursor.fetchall():
        upper = await _upper_bound(conn, str(bound))
        if upper is not None and upper <= cutoff:
            await conn.execute(sql.SQL("DROP TABLE {}").format(sql.Identifier(schema, str(name))))
            dropped.append(str(name))
    return dropped


async def _upper_bound(conn: AsyncConnection, bound: str) -> datetime | None:
    # bound looks like: FOR VALUES FROM ('2026-11-24 00:00:00+00') TO ('2026-11-25 00:00:00+00')
    marker = " TO ('"
    if marker not in bound:
        return None
    literal = bound.split(marker, 1)[1].rstrip("')")
    cursor = await conn.execute("SELECT %s::timestamptz", (literal,))
    row = await cursor.fetchone()
    return row[0] if row else None


def _floor(moment: datetime, interval: Interval) -> datetime:
    day = moment.replace(hour=0, minute=0, second=0, microsecond=0)
    return day if interval == "day" else day.replace(day=1)


def _next(lower: datetime, interval: Interval) -> datetime:
    if interval == "day":
        return lower + timedelta(days=1)
    return (lower.replace(day=28) + timedelta(days=4)).replace(day=1)
