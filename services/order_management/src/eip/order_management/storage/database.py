"""The service's PostgreSQL: connections from the runtime's pool, the schema's migrations (and
the platform audit chain's), and table names qualified with the configured schema.

Every failure to reach PostgreSQL is raised as ``DatabaseUnavailable`` (no host, user or
password in the message): the HTTP layer answers 503 and changes nothing, background loops wait
and retry.

What is subtle: a connection is lent in autocommit and given back to the pool as it came. The
pool's connections are not in autocommit, so a read outside ``transaction()`` cost three round
trips (a BEGIN of its own, the read, the COMMIT the pool's context sends at the end); in
autocommit it is the read alone. Nothing here writes outside ``transaction()``, and a read
committed transaction gives each statement its own snapshot anyway, so no reader sees less than
it did. ``transaction()`` still opens a real transaction (an explicit BEGIN, as before).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from psycopg import AsyncConnection, OperationalError
from psycopg.pq import TransactionStatus
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from eip.audit import MIGRATIONS as AUDIT_MIGRATIONS
from eip.storage import DatabaseUnavailable, apply_migrations

MIGRATIONS = Path(__file__).parent / "migrations"
PoolGetter = Callable[[], "AsyncConnectionPool[AsyncConnection] | None"]
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
TABLES = (
    "partition_leases",
    "commands",
    "orders",
    "order_events",
    "order_fills",
    "outbox",
    "event_outbox",
    "audit_outbox",
    "triggers",
    "order_lists",
    "risk_limits",
    "kill_switches",
    "account_profiles",
    "daily_usage",
    "positions",
    "fill_cursors",
)


class Tables:
    """``schema.table`` for every table, as query text (the schema is checked at start)."""

    def __init__(self, schema: str) -> None:
        if not _SCHEMA.match(schema):
            raise ValueError(f"not a schema name: {schema!r}")
        for name in TABLES:
            setattr(self, name, f'"{schema}".{name}')

    partition_leases: str
    commands: str
    orders: str
    order_events: str
    order_fills: str
    outbox: str
    event_outbox: str
    audit_outbox: str
    triggers: str
    order_lists: str
    risk_limits: str
    kill_switches: str
    account_profiles: str
    daily_usage: str
    positions: str
    fill_cursors: str


async def _give_back(conn: AsyncConnection) -> None:
    """Out of autocommit again for the pool's other users; a connection left in a transaction
    or broken is closed rather than handed back changed (the pool replaces it)."""
    if not conn.autocommit or conn.closed:
        return
    if conn.info.transaction_status is TransactionStatus.IDLE:
        with contextlib.suppress(Exception):  # whatever it was, the connection is not reused
            await conn.set_autocommit(False)
            return
    await conn.close()


class Database:
    def __init__(
        self, pool: PoolGetter, schema: str, audit_schema: str, timeout_s: float = 5.0
    ) -> None:
        self._pool = pool
        self.schema = schema
        self.audit_schema = audit_schema
        self.t = Tables(schema)
        self.timeout_s = timeout_s
        self.migrated = False

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[AsyncConnection]:
        pool = self._pool()
        if pool is None:
            raise DatabaseUnavailable("not connected to PostgreSQL yet")
        if not self.migrated:
            raise DatabaseUnavailable("the order-management schema is not migrated yet")
        handle = pool.connection(timeout=self.timeout_s)
        try:
            conn = await handle.__aenter__()
        except (OperationalError, PoolTimeout, PoolClosed, OSError) as exc:
            raise DatabaseUnavailable(f"PostgreSQL unavailable ({type(exc).__name__})") from None
        # what goes wrong inside is the caller's, except a connection lost on the way
        try:
            await conn.set_autocommit(True)  # idle after the pool's check: no round trip
            yield conn
        except OperationalError as exc:
            await _give_back(conn)
            await handle.__aexit__(type(exc), exc, exc.__traceback__)
            raise DatabaseUnavailable(f"PostgreSQL unavailable ({type(exc).__name__})") from None
        except BaseException as exc:
            await _give_back(conn)
            await handle.__aexit__(type(exc), exc, exc.__traceback__)
            raise
        else:
            await _give_back(conn)
            await handle.__aexit__(None, None, None)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        async with self.connection() as conn, conn.transaction():
            yield conn

    async def migrate(self) -> None:
        pool = self._pool()
        if pool is None:
            raise DatabaseUnavailable("not connected to PostgreSQL yet")
        try:
            async with pool.connection(timeout=self.timeout_s) as conn:
                await apply_migrations(conn, AUDIT_MIGRATIONS, self.audit_schema)
                await apply_migrations(conn, MIGRATIONS, self.schema)
        except (OperationalError, PoolTimeout, PoolClosed, OSError) as exc:
            raise DatabaseUnavailable(f"PostgreSQL unavailable ({type(exc).__name__})") from None
        self.migrated = True
