"""Subscription changes made at run time, kept in a service's own schema so that a restart
applies them: effective set = (configured + added) - removed, the latest change per key winning
(an add after a remove re-adds).

The table is created by each service's migration, with this shape (the contract of this
module)::

    CREATE TABLE subscription_changes (
        key text PRIMARY KEY,          -- the service's canonical key of one subscription
        subscription jsonb NOT NULL,   -- its fields, as the service's API takes them
        action text NOT NULL CHECK (action IN ('add', 'remove')),
        actor text,                    -- the caller's principal, when the request carried one
        updated_at timestamptz NOT NULL DEFAULT now()
    );

Only the latest change per key is kept: that is all a restart needs.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Coroutine, Iterable, Mapping
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

from psycopg import AsyncConnection, OperationalError, sql
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool, PoolClosed, PoolTimeout

from eip.storage.migrations import apply_migrations
from eip.storage.pool import DatabaseUnavailable

log = logging.getLogger(__name__)
Action = Literal["add", "remove"]
PoolGetter = Callable[[], "AsyncConnectionPool[AsyncConnection] | None"]
TABLE = "subscription_changes"


@dataclass(frozen=True, slots=True)
class SubscriptionChange:
    key: str
    subscription: dict[str, Any]
    action: Action
    actor: str | None
    updated_at: datetime


def effective(
    configured: Iterable[str], changes: Mapping[str, SubscriptionChange]
) -> dict[str, SubscriptionChange | None]:
    """The keys subscribed after applying ``changes`` to ``configured``, each with the runtime
    change that put it there (``None``: it comes from configuration)."""
    out: dict[str, SubscriptionChange | None] = dict.fromkeys(configured)
    for key, change in changes.items():
        if change.action == "add":
            out[key] = change
        else:
            out.pop(key, None)
    return out


class SubscriptionChanges:
    """Reads and writes ``<schema>.subscription_changes``. Every failure to reach PostgreSQL
    (no pool yet, pool timeout, connection lost) is raised as ``DatabaseUnavailable`` with a
    message that names no host, user or password."""

    def __init__(
        self, pool: PoolGetter, schema: str, migrations: Path, timeout_s: float = 5.0
    ) -> None:
        self._pool = pool
        self.schema = schema
        self._migrations = migrations
        self._timeout_s = timeout_s
        self._table = sql.Identifier(schema, TABLE)

    async def load(self) -> dict[str, SubscriptionChange]:
        """Apply the service's pending migrations (idempotent), then read every change."""
        try:
            async with self._connection() as conn:
                await apply_migrations(conn, self._migrations, self.schema)
                cursor = await conn.execute(
                    sql.SQL(
                        "SELECT key, subscription, action, actor, updated_at FROM {} ORDER BY key"
                    ).format(self._table)
                )
                rows = await cursor.fetchall()
        except (OperationalError, PoolTimeout, PoolClosed, OSError) as exc:
            raise _unavailable(exc) from None
        return {
            str(key): SubscriptionChange(str(key), dict(sub), action, actor, updated_at)
            for key, sub, action, actor, updated_at in rows
        }

    async def load_when_readable(self, max_delay_s: float = 10.0) -> dict[str, SubscriptionChange]:
        """``load``, retried with a growing pause (logged) until it succeeds: PostgreSQL out of
        reach, or a migration that fails, at start-up."""
        delay = 0.5
        while True:
            try:
                return await self.load()
            except Exception as exc:
                log.warning(
                    "stored subscription changes not readable",
                    extra={"schema": self.schema, "error": f"{type(exc).__name__}: {exc}"},
                )
            await asyncio.sleep(delay)
            delay = min(delay * 2, max_delay_s)

    async def record(
        self, key: str, subscription: Mapping[str, Any], action: Action, actor: str | None
    ) -> SubscriptionChange:
        """Store the latest change of ``key``, replacing the one before; committed on return."""
        try:
            async with self._connection() as conn:
                cursor = await conn.execute(
                    sql.SQL(
                        "INSERT INTO {} AS t (key, subscription, action, actor, updated_at)"
                        " VALUES (%s, %s, %s, %s, now())"
                        " ON CONFLICT (key) DO UPDATE SET subscription = excluded.subscription,"
                        " action = excluded.action, actor = excluded.actor,"
                        " updated_at = excluded.updated_at"
                        " RETURNING updated_at"
                    ).format(self._table),
                    (key, Jsonb(dict(subscription)), action, actor),
                )
                row = await cursor.fetchone()
                await conn.commit()
        except (OperationalError, PoolTimeout, PoolClosed, OSError) as exc:
            raise _unavailable(exc) from None
        assert row is not None
        return SubscriptionChange(key, dict(subscription), action, actor, row[0])

    def _connection(self) -> AbstractAsyncContextManager[AsyncConnection]:
        pool = self._pool()
        if pool is None:
            raise DatabaseUnavailable("not connected to PostgreSQL yet")
        return pool.connection(timeout=self._timeout_s)


@asynccontextmanager
async def change_slot(
    changes: SubscriptionChanges | None,
    restored: asyncio.Event,
    lock: asyncio.Lock,
    wait_s: float,
) -> AsyncIterator[SubscriptionChanges]:
    """Where a service makes one runtime change: one at a time (``lock``, which the service's
    restore also holds), and none before the stored changes were applied (``restored``), since
    the restore could undo it. ``DatabaseUnavailable`` when the service keeps no changes or they
    were not read within ``wait_s``."""
    if changes is None:
        raise DatabaseUnavailable("this instance keeps no subscription changes")
    try:
        await asyncio.wait_for(restored.wait(), wait_s)
    except TimeoutError:
        raise DatabaseUnavailable(
            "stored subscription changes have not been read yet (PostgreSQL unreachable)"
        ) from None
    async with lock:
        yield changes


async def restore_or_fall_back(
    restore: Callable[[], Coroutine[Any, Any, None]],
    fall_back: Callable[[], Coroutine[Any, Any, None]],
    restored: asyncio.Event,
    lock: asyncio.Lock,
    wait_s: float,
    service: str,
) -> None:
    """Start a service's subscriptions: ``restore`` reads the stored changes (retried until
    PostgreSQL answers), applies the effective set and sets ``restored``; if that takes longer
    than ``wait_s``, ``fall_back`` applies the configured set alone meanwhile, since a database
    outage must not stop the service's data. Returns once the restore has run."""
    task = asyncio.create_task(restore(), name=f"{service}-restore-read")
    try:
        done, _ = await asyncio.wait({task}, timeout=wait_s)
        if not done:
            log.error(
                "stored subscription changes not readable yet; starting the configured"
                " subscriptions alone until they are",
                extra={"service": service, "waited_s": wait_s},
            )
            async with lock:
                if not restored.is_set():
                    await fall_back()
        try:
            await task
        except Exception as exc:
            # Never a service left following nothing: the configured set runs, and runtime
            # changes stay refused (503) rather than overwrite changes that were not applied.
            log.error(
                "stored subscription changes could not be applied; following the configured"
                " subscriptions only",
                extra={"service": service, "error": f"{type(exc).__name__}: {exc}"},
            )
            async with lock:
                if not restored.is_set():
                    await fall_back()
    finally:
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


def _unavailable(exc: BaseException) -> DatabaseUnavailable:
    # The exception's text can carry the server's address; the type is enough to tell why.
    return DatabaseUnavailable(f"PostgreSQL is unavailable ({type(exc).__name__})")
