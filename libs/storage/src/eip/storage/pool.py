"""The async connection pool, opened with a deadline so a missing database fails fast."""

from __future__ import annotations

import re

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool, PoolTimeout

_PASSWORD_IN_URL = re.compile(r"(://[^:/@\s]+):[^@\s]*@")
_PASSWORD_KV = re.compile(r"(?i)(password\s*=\s*)\S+")


class DatabaseUnavailable(Exception):
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
