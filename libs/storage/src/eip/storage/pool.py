"""The async connection pool, opened with a deadline so a missing database fails fast.

What is subtle: psycopg_pool replaces a connection that broke with a chain of attempts whose
pause doubles without a cap (1, 2, 4, 8, 16, 32 s …) until ``reconnect_timeout`` (5 minutes by
default). After a 30 s outage the next attempt could come half a minute after PostgreSQL was
back — market-data, whose pool is busy, was ready 31 s late (issue 11 §9). So a chain here
gives up after ``timeout_s`` (pauses of 1 and 2 s, then the rest of it), and the next request
for a connection starts a new one at once: while requests keep coming (the readiness check
asks every second) the pool tries at least every couple of seconds. Connections are checked
before they are handed out (an empty query), so the first caller after an outage gets a live
connection, not the broken one the pool still held.
"""

from __future__ import annotations

import re

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

from eip.resilience import DependencyUnavailable

_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]+):[^@\s]*@")
_PASSWORD_KV = re.compile(r"(?i)(password\s*=\s*)\S+")


class DatabaseUnavailable(DependencyUnavailable):
    """PostgreSQL did not accept a connection in time; the message never includes a password."""


def redact_dsn(dsn: str) -> str:
    return _PASSWORD_KV.sub(r"\1***", _PASSWORD_IN_URL.sub(r"\1:***@", dsn))


async def open_pool(
    dsn: str,
    *,
    min_size: int = 1,
    max_size: int = 10,
    timeout_s: float = 5.0,
    name: str = "eip",
) -> AsyncConnectionPool[AsyncConnection]:
    """Open a pool and wait for its first connection, or raise DatabaseUnavailable."""
    if not dsn:
        raise DatabaseUnavailable("DATABASE_URL is empty; `make up` prints the local one")
    pool: AsyncConnectionPool[AsyncConnection] = AsyncConnectionPool(
        dsn,
        min_size=min_size,
        max_size=max_size,
        timeout=timeout_s,
        name=name,
        open=False,
        kwargs={"connect_timeout": max(1, int(timeout_s)), "autocommit": False},
        check=AsyncConnectionPool.check_connection,
        reconnect_timeout=max(timeout_s, 3.0),
    )
    try:
        await pool.open(wait=True, timeout=timeout_s)
    except PoolTimeout:
        await pool.close()
        raise DatabaseUnavailable(
            f"PostgreSQL at {redact_dsn(dsn)} accepted no connection within {timeout_s}s; "
            "is it running? `make up` starts a local server"
        ) from None
    return pool
